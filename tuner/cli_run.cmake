# qla run: target_sources(qla PRIVATE ...)
