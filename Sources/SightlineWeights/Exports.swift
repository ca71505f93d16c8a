@_exported import SightlineModels
