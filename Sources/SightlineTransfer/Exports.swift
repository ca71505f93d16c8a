@_exported import SightlineVision
@_exported import SightlineWeights
