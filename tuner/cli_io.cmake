# qla devices | generate | reference: target_sources(qla PRIVATE ...)
