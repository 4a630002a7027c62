import Domain
import Synchronization

/// The daemon's rigs, by id, in the order their files list them. Changes with a reload of the rig folder
/// (SIGHUP); a rig with an active run keeps its description until the run ends.
final class RigRegistry: Sendable {
    private struct State {
        var runners: [String: RigRunner] = [:]
        var order: [String] = []
    }

    private let state = Mutex(State())

    init(_ runners: [RigRunner]) {
        state.withLock { state in
            for runner in runners {
                state.runners[runner.rigID] = runner
                state.order.append(runner.rigID)
            }
        }
    }

    subscript(id: String) -> RigRunner? { state.withLock { $0.runners[id] } }

    /// Every rig, in order.
    var all: [RigRunner] { state.withLock { state in state.order.compactMap { state.runners[$0] } } }

    var ids: [String] { state.withLock { $0.order } }

    var count: Int { state.withLock { $0.order.count } }

    /// Adds a rig at the end of the order.
    func add(_ runner: RigRunner) {
        state.withLock { state in
            if state.runners[runner.rigID] == nil { state.order.append(runner.rigID) }
            state.runners[runner.rigID] = runner
        }
    }

    func remove(id: String) {
        state.withLock { state in
            state.runners[id] = nil
            state.order.removeAll { $0 == id }
        }
    }
}
