// swift-tools-version: 6.0
// Sightline: transfer learning and explainability with pretrained CNNs, in one native binary.
import PackageDescription

let package = Package(
    name: "Sightline",
    products: [
        .library(name: "SightlineCore", targets: ["SightlineCore"]),
        .library(name: "SightlineNN", targets: ["SightlineNN"]),
        .library(name: "SightlineModels", targets: ["SightlineModels"]),
        .library(name: "SightlineWeights", targets: ["SightlineWeights"]),
        .library(name: "SightlineVision", targets: ["SightlineVision"]),
        .library(name: "SightlineData", targets: ["SightlineData"]),
        .library(name: "SightlineTransfer", targets: ["SightlineTransfer"]),
        .library(name: "SightlineExplain", targets: ["SightlineExplain"]),
        // The one deliberate umbrella: `import SightlineKit` gives a Swift user every module.
        .library(name: "SightlineKit", targets: ["SightlineKit"]),
        .executable(name: "sightline", targets: ["sightline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C libraries from Debian packages (installed by scripts/bootstrap.sh).
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // Open MPI's header only; CMPIRuntime loads libmpi when launched by mpirun or srun.
        .systemLibrary(name: "CMPI", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CMPIRuntime", dependencies: ["CMPI"]),
        // libjpeg-turbo and libpng behind functions that recover from codec errors inside C.
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]
        ),
        // mallopt and other process-level settings Swift's Glibc module does not expose.
        .target(name: "CRuntime"),
        // Sightline's own kernels in C: Winograd F(4x4,3x3), oneDNN convolution/pooling primitives,
        // and the one thread pool (libgomp's OpenMP team, which oneDNN runs on).
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]
        ),
        // ONNX's messages, generated from onnx.proto by scripts/generate_onnx_proto.sh (committed).
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "SightlineCore", dependencies: ["CBLAS", "CDNNL", "CRuntime", "CKernels"]),
        .target(name: "SightlineNN", dependencies: ["SightlineCore", "CKernels"]),
        .target(name: "SightlineModels", dependencies: ["SightlineCore", "SightlineNN"]),
        .target(
            name: "SightlineWeights",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineModels", "CHDF5", "ZIPFoundation", "ONNXProto",
            ],
            // The Keras Applications architectures (scripts/make_keras_applications.py).
            resources: [.copy("Resources/keras_applications.zip")]),
        .target(name: "SightlineVision", dependencies: ["SightlineCore", "CImageCodecs", "CKernels"]),
        // The images' road: inputs, class folders, the batch stream and loop, the decoded-image
        // cache, and `ModelInput` (channel check, resize policy, preprocessing in one place).
        .target(
            name: "SightlineData",
            dependencies: ["SightlineCore", "SightlineNN", "SightlineModels", "SightlineVision"]),
        .target(
            name: "SightlineTransfer",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineModels", "SightlineVision", "SightlineData",
                "SightlineWeights", "CMPIRuntime",
            ]),
        .target(
            name: "SightlineExplain",
            dependencies: ["SightlineCore", "SightlineNN", "SightlineVision", "SightlineData", "SightlineWeights"]),
        .target(
            name: "SightlineKit",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineModels", "SightlineWeights", "SightlineVision",
                "SightlineData", "SightlineTransfer", "SightlineExplain",
            ]),
        .executableTarget(
            name: "sightline",
            dependencies: [
                "SightlineCore",
                "SightlineNN",
                "SightlineModels",
                "SightlineWeights",
                "SightlineVision",
                "SightlineData",
                "SightlineTransfer",
                "SightlineExplain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SightlineCoreTests", dependencies: ["SightlineCore", "CHDF5", "CImageCodecs"]),
        // Fixture readers and tolerance checks shared by the test targets.
        .target(name: "SightlineTestSupport", dependencies: ["SightlineCore"], path: "Tests/SightlineTestSupport"),
        .testTarget(name: "SightlineNNTests", dependencies: ["SightlineCore", "SightlineNN", "SightlineTestSupport"]),
        .testTarget(
            name: "SightlineModelsTests",
            dependencies: ["SightlineCore", "SightlineNN", "SightlineModels", "SightlineKit"]),
        .testTarget(
            name: "SightlineWeightsTests",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineModels", "SightlineWeights", "SightlineTransfer",
                "SightlineExplain",
                "SightlineTestSupport",
            ]),
        .testTarget(
            name: "SightlineVisionTests",
            dependencies: ["SightlineCore", "SightlineVision", "SightlineTestSupport", "CKernels"]),
        .testTarget(
            name: "SightlineDataTests",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineModels", "SightlineVision", "SightlineData",
                "SightlineTestSupport",
            ]),
        .testTarget(
            name: "SightlineTransferTests",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineVision", "SightlineData", "SightlineWeights",
                "SightlineTransfer", "SightlineTestSupport",
            ]),
        .testTarget(
            name: "SightlineExplainTests",
            dependencies: [
                "SightlineCore", "SightlineNN", "SightlineVision", "SightlineData", "SightlineWeights",
                "SightlineExplain", "SightlineTestSupport",
            ]),
        // Runs the built `sightline` executable; depending on it makes `swift test` build it.
        .testTarget(
            name: "SightlineCLITests",
            dependencies: [
                "sightline", "SightlineCore", "SightlineNN", "SightlineWeights", "SightlineVision", "SightlineData",
                "SightlineTransfer",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
