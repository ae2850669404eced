"""The hardware-in-the-loop twin: pylon's camera emulation + the Varioptic driver on a pseudo-terminal, rendered by
the simulator (:class:`~dasha.camera.twin.camera.TwinCamera`, SPEC ``twin:``)."""
