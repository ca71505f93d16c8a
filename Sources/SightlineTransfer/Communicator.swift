internal import CMPIRuntime
import Foundation

/// The processes of a data-parallel job and the collective operations training needs.
///
/// `SingleProcess` is the default everywhere; `MPICommunicator` is what `mpirun -np N
/// sightline finetune …` (or `srun`) gives. Jobs take one explicitly (no process-wide state).
public protocol Communicator: AnyObject {
    /// This process, 0..<size; rank 0 writes files and prints.
    var rank: Int { get }
    var size: Int { get }
    /// Sums `values` over all processes, in place (same count on every process).
    func sum(_ values: inout [Float]) throws
    func sum(_ values: inout [Double]) throws
    /// Copies rank 0's `values` to every process.
    func broadcast(_ values: inout [Float]) throws
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
}

/// One process: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: inout [Float]) {}
    public func sum(_ values: inout [Double]) {}
    public func broadcast(_ values: inout [Float]) {}
}

/// Open MPI's world communicator, loaded at run time (see `CMPIRuntime`).
public final class MPICommunicator: Communicator {

    public let rank: Int
    public let size: Int

    /// True when an MPI launcher (mpirun, srun) started this process.
    public static var isLaunched: Bool { sl_mpi_launched() != 0 }

    /// Initialises MPI (once per process).
    public init() throws {
        var rank: Int32 = 0
        var size: Int32 = 1
        guard sl_mpi_start(&rank, &size) == 0 else { throw Self.failure() }
        (self.rank, self.size) = (Int(rank), Int(size))
    }

    static func failure() -> TransferError { TransferError(.mpi, "MPI: " + String(cString: sl_mpi_error())) }

    public func sum(_ values: inout [Float]) throws {
        let status = values.withUnsafeMutableBufferPointer { sl_mpi_allreduce_sum_float($0.baseAddress, $0.count) }
        guard status == 0 else { throw Self.failure() }
    }

    public func sum(_ values: inout [Double]) throws {
        let status = values.withUnsafeMutableBufferPointer { sl_mpi_allreduce_sum_double($0.baseAddress, $0.count) }
        guard status == 0 else { throw Self.failure() }
    }

    public func broadcast(_ values: inout [Float]) throws {
        let status = values.withUnsafeMutableBufferPointer { sl_mpi_broadcast_float($0.baseAddress, $0.count, 0) }
        guard status == 0 else { throw Self.failure() }
    }

    /// Ends every process of the job (after an error on this one, so the others do not wait
    /// forever in a collective).
    public func abort(code: Int32) -> Never {
        sl_mpi_abort(code)
        exit(code)
    }

    /// Finalises MPI; call once at the end of a successful job.
    public func finish() { _ = sl_mpi_finish() }
}
