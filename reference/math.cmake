# Reference math: target_sources(qla_reference PRIVATE ...)
