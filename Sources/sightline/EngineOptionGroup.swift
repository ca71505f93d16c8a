import ArgumentParser
import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTransfer

extension Precision: ExpressibleByArgument {}

/// `--threads`, defaulting to `SIGHTLINE_THREADS`: the engine's thread count, which goes into
/// `EngineOptions.threads` (the engine sizes its team from it when a model runs).
struct ThreadsOption: ParsableArguments {
    @Option(
        help:
            "Threads for the engine's loops and oneDNN (default: SIGHTLINE_THREADS, else OMP_NUM_THREADS, else every core; on 4 or more cores, commands that decode images leave the decoding threads their cores)."
    )
    var threads: Int?

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
    }

    /// `SIGHTLINE_THREADS`, the documented environment, read once (nil when unset or not a
    /// positive number).
    static let environment: Int? = {
        ProcessInfo.processInfo.environment["SIGHTLINE_THREADS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }()

    /// The engine's thread count: `--threads`, else `SIGHTLINE_THREADS`; else, for a command that
    /// decodes images on `decodeWorkers` threads while the model runs and no `OMP_NUM_THREADS`
    /// is set, `ImageBatchStream.computeThreads(workers:)` (the decoders keep their cores); else
    /// nil (libgomp's default team).
    func resolved(decodeWorkers: Int? = nil) -> Int? {
        if let threads = threads ?? Self.environment { return threads }
        guard let decodeWorkers, ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] == nil else { return nil }
        return ImageBatchStream.computeThreads(workers: decodeWorkers)
    }
}

/// The engine settings a command that runs a model forward takes: `--precision` and `--threads`,
/// turned into one explicit `EngineOptions` before the model runs.
struct EngineOptionGroup: ParsableArguments {
    /// What `--help` says about bf16, with the deviations measured on the test models.
    static let precisionHelp = ArgumentHelp(
        "Arithmetic of the convolutions: fp32 (default), bf16 (AVX512_BF16 or AMX CPUs only) or bf16-emulated.",
        discussion: """
            bf16 rounds each convolution's input and weights to bfloat16 and accumulates in float32; \
            bf16-emulated does the same rounding with float32 instructions on any CPU (slower than fp32; \
            to see the effect before deploying). Measured with bf16-emulated against fp32 (max difference \
            over max value): random-weight Keras ResNet50 at 224×224, pooled features 3.3e-3, \
            probabilities 9.5e-3; VGG16, fc2 features 7.2e-3, probabilities 4.6e-3; top-1 unchanged. The \
            shipped digits model: same accuracy on digits-mini (0.97), top probabilities moved by up to \
            0.04. What to expect: with AMX (Intel Sapphire Rapids and later) bf16 is faster, on a 16-core \
            Xeon ResNet50 1.7–1.8× fp32 and VGG16 1.2× (fp32 VGG16 already runs Winograd); with \
            AVX512_BF16 on AMD (Zen 4 and later) bf16 runs every convolution but the 3×3 layers on maps of \
            13×13 and up, which keep fp32 Winograd (faster there): ResNet50 batch 8 1.2–1.4× fp32 on a 2-core \
            EPYC, VGG16 level; with AVX512_BF16 but no AMX on Intel oneDNN's bf16 convolutions ran slower \
            than fp32 on every layer kind (ResNet50 batch 8: 10.2 img/s against 24.5 on one core of a \
            2-core Xeon), so there bf16 runs fp32. bf16 is never a slowdown. fp32, the default, is what every Keras comparison in the tests runs. `sightline bench \
            --precision P` measures the deviation.
            """)

    @Option(help: precisionHelp)
    var precision: Precision = .fp32

    @OptionGroup var threading: ThreadsOption

    /// `--threads`, when given.
    var threads: Int? { threading.threads }

    /// `SIGHTLINE_CONV=auto|reference|direct` (default auto), the documented switch for comparing
    /// kernel routes, read once; every command's graphs use it (`ModelOptions.load`).
    static let environmentRoute: ConvolutionRoute = {
        ConvolutionRoute(rawValue: ProcessInfo.processInfo.environment["SIGHTLINE_CONV"] ?? "") ?? .auto
    }()

    /// Engine options for commands without `--precision` and `--threads`: the environment's
    /// route and thread count.
    static var defaults: EngineOptions {
        EngineOptions(convolution: environmentRoute, threads: ThreadsOption.environment)
    }

    /// A bf16 request on a CPU without bf16 instructions is a usage error.
    static func check(_ precision: Precision) throws {
        if precision == .bf16, !Precision.bf16Available {
            throw CommandError.usage(
                "--precision bf16 needs a CPU with AVX512_BF16 or AMX instructions (Intel Cooper Lake, Sapphire Rapids "
                    + "or later; AMD Zen 4 or later) and this one has neither; use --precision fp32 (the default), or "
                    + "--precision bf16-emulated to see bf16's effect on this model's outputs here")
        }
    }

    /// The engine options: the documented environment's convolution route, this precision and
    /// the thread count (`ThreadsOption.resolved`: a command that decodes images on
    /// `decodeWorkers` threads while the model runs leaves them their cores when nothing chose
    /// the count). A bf16 request on a CPU without it is a usage error.
    func make(decodeWorkers: Int? = nil) throws -> EngineOptions {
        try Self.check(precision)
        return EngineOptions(
            convolution: Self.environmentRoute, precision: precision,
            threads: threading.resolved(decodeWorkers: decodeWorkers))
    }
}
