# Host tensors, .npy I/O, generators: target_sources(qla_reference PRIVATE ...)
