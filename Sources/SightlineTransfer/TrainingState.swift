import Foundation
import SightlineCore
import SightlineNN
import SightlineWeights

/// Everything `FineTuner` needs to continue an interrupted run exactly: the phase and next
/// epoch, all weights (moving statistics included), the best weights for early stopping, the
/// optimizer's moments and step count, the schedule's state, the random generators, and the
/// history. Saved atomically to `OUTPUT.state.h5` after every epoch.
struct TrainingState {
    var phase = 1
    var nextEpoch = 0
    var history: [FineTuner.EpochRecord] = []
    var bestAccuracy = -1.0
    var bestWeights: [String: Tensor] = [:]
    var epochsWithoutImprovement = 0
    var plateauScale: Float = 1
    var plateauWait = 0
    var optimizerIterations = 0
    var moments: [String: [String: Tensor]] = [:]
    /// Phase 2's base rate found by a sweep (`Options.findLearningRate`), once found.
    var foundLearningRate: Float?
    /// The weights' moving averages (`Options.emaDecay`) by slot key.
    var averages: [String: Tensor] = [:]

    init(phase: Int = 1, history: [FineTuner.EpochRecord] = []) {
        self.phase = phase
        self.history = history
    }

    static func parameters(of graph: Graph) -> [(String, Parameter)] {
        graph.layers.flatMap { layer in layer.parameters.map { ("\(layer.name)/\($0.name)", $0) } }
    }

    /// Records an epoch's accuracy; returns whether it improved. Tracks the best weights in
    /// phase 2 and the plateau schedule's reductions.
    mutating func observe(_ accuracy: Double, epoch: Int, graph: Graph, schedule: LearningRateSchedule, phase: Int)
        -> Bool
    {
        guard phase == 2 else { return true }
        if accuracy > bestAccuracy {
            bestAccuracy = accuracy
            bestWeights = Dictionary(uniqueKeysWithValues: Self.parameters(of: graph).map { ($0.0, $0.1.value) })
            epochsWithoutImprovement = 0
            plateauWait = 0
            return true
        }
        epochsWithoutImprovement += 1
        plateauWait += 1
        if case .plateau(let patience, let factor) = schedule, plateauWait >= patience {
            plateauScale *= factor
            plateauWait = 0
        }
        return false
    }

    func restoreBest(into graph: Graph) {
        guard !bestWeights.isEmpty else { return }
        for (key, parameter) in Self.parameters(of: graph) {
            if let value = bestWeights[key] { parameter.value = value }
        }
    }

    func restoreOptimizer(_ optimizer: any Optimizer) {
        optimizer.iterations = optimizerIterations
        if let adam = optimizer as? Adam {
            adam.firstMoments = moments.compactMapValues { $0["m"] }
            adam.secondMoments = moments.compactMapValues { $0["v"] }
        } else if let sgd = optimizer as? SGD {
            sgd.velocities = moments.compactMapValues { $0["velocity"] }
        }
    }

    static func words(_ generator: SeededGenerator) -> String {
        let s = generator.state
        return [s.0, s.1, s.2, s.3].map(String.init).joined(separator: ",")
    }

    static func generator(_ text: String?) -> SeededGenerator? {
        let words = (text ?? "").split(separator: ",").compactMap { UInt64($0) }
        return words.count == 4 ? SeededGenerator(state: (words[0], words[1], words[2], words[3])) : nil
    }

    func save(_ path: String, from tuner: FineTuner, optimizer: any Optimizer, average: WeightAverage?) throws {
        try AtomicFile.write(to: path) { temporary in
            let file = try HDF5File(creating: temporary)
            for (key, parameter) in Self.parameters(of: tuner.graph) {
                try file.write(parameter.value, to: "/weights/\(key)")
            }
            for (key, value) in average?.averages ?? [:] { try file.write(value, to: "/ema/\(key)") }
            for (key, value) in bestWeights { try file.write(value, to: "/best/\(key)") }
            var slots: [String: [String: Tensor]] = [:]
            if let adam = optimizer as? Adam {
                for (key, value) in adam.firstMoments { slots[key, default: [:]]["m"] = value }
                for (key, value) in adam.secondMoments { slots[key, default: [:]]["v"] = value }
            } else if let sgd = optimizer as? SGD {
                for (key, value) in sgd.velocities { slots[key, default: [:]]["velocity"] = value }
            }
            for (key, values) in slots {
                for (name, value) in values { try file.write(value, to: "/optimizer/\(key)/\(name)") }
            }
            let encoder = JSONEncoder()
            let attributes: [String: String] = [
                "phase": String(phase), "next_epoch": String(nextEpoch), "best_accuracy": String(bestAccuracy),
                "epochs_without_improvement": String(epochsWithoutImprovement), "plateau_scale": String(plateauScale),
                "plateau_wait": String(plateauWait), "optimizer_iterations": String(optimizer.iterations),
                "generator": Self.words(tuner.generator),
                "history": String(decoding: try encoder.encode(history), as: UTF8.self),
                "dropout_generator": tuner.headDropout.map { Self.words($0.generator) } ?? "",
                "settings": tuner.options.resumeSettingsJSON,
                "found_learning_rate": foundLearningRate.map { "\($0)" } ?? "",
            ]
            for (name, value) in attributes { try file.writeString(value, attribute: name) }
            try file.close()
        }
    }

    static func load(_ path: String, into tuner: FineTuner) throws -> TrainingState {
        let file = try HDF5File(reading: path)
        try tuner.options.checkResume(file, path: path)
        func attribute(_ name: String) throws -> String { try file.stringAttribute(name) ?? "" }
        var state = TrainingState(phase: Int(try attribute("phase")) ?? 1)
        state.nextEpoch = Int(try attribute("next_epoch")) ?? 0
        state.bestAccuracy = Double(try attribute("best_accuracy")) ?? -1
        state.epochsWithoutImprovement = Int(try attribute("epochs_without_improvement")) ?? 0
        state.plateauScale = Float(try attribute("plateau_scale")) ?? 1
        state.plateauWait = Int(try attribute("plateau_wait")) ?? 0
        state.optimizerIterations = Int(try attribute("optimizer_iterations")) ?? 0
        state.foundLearningRate = Float(try attribute("found_learning_rate"))
        do {
            state.history = try JSONDecoder().decode(
                [FineTuner.EpochRecord].self, from: Data(try attribute("history").utf8))
        } catch {
            throw TransferError(
                .file, subject: path,
                "the training history cannot be read (\(error)); delete the state file to start over")
        }
        for (key, parameter) in parameters(of: tuner.graph) {
            let value = try file.readTensor("/weights/\(key)")
            guard value.shape == parameter.value.shape else {
                throw TransferError(
                    .file,
                    "\(path): \(key) is \(value.shape), the model's is \(parameter.value.shape); the state belongs to another model"
                )
            }
            parameter.value = value
            if file.exists("/best/\(key)") { state.bestWeights[key] = try file.readTensor("/best/\(key)") }
            if file.exists("/ema/\(key)") { state.averages[key] = try file.readTensor("/ema/\(key)") }
            for name in ["m", "v", "velocity"] where file.exists("/optimizer/\(key)/\(name)") {
                state.moments[key, default: [:]][name] = try file.readTensor("/optimizer/\(key)/\(name)")
            }
        }
        if let generator = generator(try attribute("generator")) { tuner.generator = generator }
        if let dropout = tuner.headDropout, let generator = generator(try attribute("dropout_generator")) {
            dropout.generator = generator
        }
        return state
    }
}
