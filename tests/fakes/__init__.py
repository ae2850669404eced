"""Byte-level fakes of serial devices on pseudo-terminals (the drivers open the slave's path with pyserial)."""
