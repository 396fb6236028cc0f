# qla run (the forward on .npy inputs) and qla cache warm (NVRTC ahead of a GPU). Links the kernels whole so
# their AOT registrations survive.
target_sources(qla PRIVATE cli/cmd_run.cpp cli/cmd_cache.cpp)
target_link_libraries(qla PRIVATE qla::kernels)
