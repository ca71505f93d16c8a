@_exported import SightlineTransfer
