import Control
import ControlServer
import Domain
import Logging
import ProtocolFiles
import Storage

/// Starts each rig's queued runs in order as the rig becomes free, and holds a rig's queue when a run ended in a
/// way its `then:` does not allow. The queue lives in the database (`queue_entries`, `queue_rigs`), so it
/// survives restarts; the daemon opens it once the runs a restart interrupted are resumed or settled, and closes
/// it before a shutdown ends the active runs (their interruption must not start the next entry).
actor RunQueue {
    private let store: RunStore
    private let runners: RigRegistry
    private let logger: Logger
    private var isOpen = false
    /// Rigs being advanced now, and those asked again meanwhile (a run that ended while the next one started).
    private var advancing: Set<String> = []
    private var askedAgain: Set<String> = []

    init(store: RunStore, runners: RigRegistry, logger: Logger) {
        self.store = store
        self.runners = runners
        self.logger = logger
    }

    /// Starts what can start on every rig; from now on the queue follows the rigs.
    func open() async {
        isOpen = true
        await advanceAll()
    }

    /// Starts nothing more (a shutdown is ending the active runs).
    func close() {
        isOpen = false
    }

    func advanceAll() async {
        for rigID in runners.ids { await advance(rigID: rigID) }
    }

    /// Judges the rig's last run if it has not been, then starts the rig's next entry if the queue may go on.
    func advance(rigID: String) async {
        guard isOpen else { return }
        guard advancing.insert(rigID).inserted else {
            askedAgain.insert(rigID)
            return
        }
        defer { advancing.remove(rigID) }
        repeat {
            askedAgain.remove(rigID)
            do {
                try await advanceOnce(rigID)
            } catch {
                logger.error("queue of rig '\(rigID)': \(error)")
            }
        } while isOpen && askedAgain.contains(rigID)
    }

    private func advanceOnce(_ rigID: String) async throws {
        guard let runner = runners[rigID], await runner.isIdle, await !runner.retired else { return }
        guard let next = try store.firstWaitingEntry(rigID: rigID) else { return }
        let queue = try store.queueRig(rigID)
        if queue?.isHeld == true { return }
        if let last = try store.newestRun(rigID: rigID), last.id > queue?.settledRunID ?? 0 {
            // A run whose end the database has not taken yet (a full disk) is judged once it has.
            guard last.state.isFinal else { return }
            let holdReason = try holdReason(afterRun: last.id, state: last.state, rigID: rigID)
            try store.settleQueue(rigID: rigID, runID: last.id, holdReason: holdReason)
            if let holdReason {
                logger.warning("queue of rig '\(rigID)' held: \(holdReason)")
                return
            }
        }
        let request = StartRunRequest(
            protocol_file: next.protocolFile, protocol_text: next.protocolText, rig: rigID, cell_label: next.cellLabel,
            area_cm2: next.area_cm2, parameters: next.parameters)
        do {
            let runID = try await runner.start(request)
            try store.markQueueEntryStarted(next.id, runID: runID)
            logger.notice("queue of rig '\(rigID)': entry \(next.id) (\(next.protocolName)) started run \(runID)")
        } catch let failure as ControlFailure where failure.status == 409 {
            return  // someone started a run on the rig meanwhile; its end advances the queue again
        } catch {
            let reason =
                "entry \(next.id) (\(next.protocolFile)) could not start: \(error); remove it "
                + "(cellrig queue remove \(next.id)) or fix the rig and release the queue "
                + "(cellrig queue release --rig \(rigID))"
            try store.holdQueue(rigID: rigID, reason: reason)
            logger.error("queue of rig '\(rigID)' held: \(reason)")
        }
    }

    /// Why the queue may not go on after run `runID` ended in `state`, or nil when it may. A run the queue started
    /// is judged by its entry's `then`, any other by its protocol's.
    private func holdReason(afterRun runID: Int64, state: RunState, rigID: String) throws -> String? {
        let policy: QueuePolicy
        if let entry = try store.queueEntry(runID: runID) {
            policy = entry.then
        } else if let recorded = try store.recordedProtocol(runID: runID),
            let testProtocol = try? ProtocolFile.parse(
                recorded.text, file: recorded.file, parameters: recorded.parameters)
        {
            policy = testProtocol.then
        } else {
            policy = .hold
        }
        guard !policy.allowsNext(after: state) else { return nil }
        let run = try store.run(id: runID)
        let why =
            state == .stopped
            ? "its then: \(policy.rawValue) keeps the next run waiting after a stop"
            : "a run that ended \(state.rawValue) always holds the queue"
        return
            "run \(runID) (\(run?.protocolName ?? "?")) ended \(state.rawValue): \(run?.endReason ?? "no reason recorded"); "
            + "\(why); let it go on with `cellrig queue release --rig \(rigID)`"
    }
}
