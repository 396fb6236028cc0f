# K2 (kkt/fused/state pass): target_sources(qla_kernels PRIVATE ...)
