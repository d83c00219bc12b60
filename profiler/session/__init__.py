"""Stage 3, a traced run: pre-flight, the container engine, the workload, the recording modes
(new container, attach, host command, every container matching labels). Produces recordings;
independent of the policy stage."""
