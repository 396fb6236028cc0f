# qla run: the forward on .npy inputs. Links the kernels whole so their AOT registrations survive.
target_sources(qla PRIVATE cli/cmd_run.cpp)
target_link_libraries(qla PRIVATE qla::kernels)
