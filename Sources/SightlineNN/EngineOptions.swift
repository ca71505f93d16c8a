import Foundation

/// Which algorithm runs a convolution.
public enum ConvolutionRoute: String, Sendable, CaseIterable {
    /// The per-layer rule of `ConvolutionKernels.make`: Winograd F(4×4,3×3) for 3×3 stride-1
    /// layers whose channel counts are multiples of 16, oneDNN direct convolution for the rest.
    case auto
    /// im2col + sgemm, the original implementation: the reference every other route is tested against.
    case reference
    /// oneDNN direct convolution for every layer (no Winograd).
    case direct
}

/// Engine settings, passed explicitly to the plans and layers that use them.
public struct EngineOptions: Sendable, Equatable {
    /// How convolutions are computed.
    public var convolution: ConvolutionRoute

    public init(convolution: ConvolutionRoute = .auto) {
        self.convolution = convolution
    }

    /// The options documented for the command line: `SIGHTLINE_CONV=auto|reference|direct`
    /// (default `auto`). Read once per process.
    public static let environment: EngineOptions = {
        let name = ProcessInfo.processInfo.environment["SIGHTLINE_CONV"] ?? ""
        return EngineOptions(convolution: ConvolutionRoute(rawValue: name) ?? .auto)
    }()
}
