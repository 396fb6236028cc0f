# K3 (unfused baseline pipeline): target_sources(qla_kernels PRIVATE ...)
