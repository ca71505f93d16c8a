// The umbrella module: one `import SightlineKit` for Swift users who want every part of
// Sightline. The library targets themselves import exactly what they use; this is the only
// place with `@_exported` imports.
@_exported import SightlineCore
@_exported import SightlineData
@_exported import SightlineExplain
@_exported import SightlineModels
@_exported import SightlineNN
@_exported import SightlineTransfer
@_exported import SightlineVision
@_exported import SightlineWeights
