# The pod sandbox image containerd starts for every pod (its sandbox_image): it only waits.
FROM scratch
COPY testapp /pause
ENTRYPOINT ["/pause", "pause"]
