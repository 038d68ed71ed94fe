"""The device side of hardware in the loop: the twin behind a serial port.

An adapter board's firmware (:mod:`.adapter_board` for treadtwin's own
protocol, :mod:`.lab_board` for the Woodway and Trackmaster profiles) turns
bytes from a host into commands for the twin's drive and the twin's
telemetry into bytes back. :mod:`.port` opens the pseudo-terminal or serial
device and paces bytes at the wire time of a baud rate; :mod:`.runner` ties
board, port and twin together in lockstep or wall-clock time.

Arrows: ``scenarios -> emulator -> sim -> controllers``.
"""
