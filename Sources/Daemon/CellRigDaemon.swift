import Control
import ControlServer
import Domain
import Logging
import ServiceLifecycle
import Storage
import Synchronization
import UnixSignals

/// The daemon's composition root: the database, one ``RigRunner`` per rig, and the control server, run as a
/// `ServiceGroup`. SIGTERM or SIGINT shut it down gracefully: the control server stops accepting requests,
/// every running run is ended as `interrupted` with its cell at open circuit and its data flushed.
public final class CellRigDaemon: ControlBackend {
    public let configuration: DaemonConfiguration
    let store: RunStore
    let journal: OutcomeJournal
    let pendingOutcomes = PendingOutcomes()
    let hub = RunHub()
    let runners: [String: RigRunner]
    let rigOrder: [String]
    let logger: Logger
    private let serviceGroup = Mutex<ServiceGroup?>(nil)

    public init(configuration: DaemonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        store = try RunStore(
            path: configuration.databasePath, maximumSize_bytes: configuration.maximumDatabaseSize_bytes)
        journal = try OutcomeJournal(databasePath: configuration.databasePath)
        Self.recordJournaledOutcomes(journal, store: store, logger: logger)
        let services = RunServices(
            store: store, journal: journal, pendingOutcomes: pendingOutcomes, hub: hub, logger: logger)
        var runners: [String: RigRunner] = [:]
        for rig in configuration.rigs {
            runners[rig.id] = RigRunner(rig: rig, services: services)
        }
        self.runners = runners
        rigOrder = configuration.rigs.map(\.id)
        interruptedAtStart = try store.interruptAbandonedRuns(reason: "the daemon stopped while the run was active")
        if !interruptedAtStart.isEmpty {
            logger.warning(
                "runs left active by an earlier daemon are marked interrupted and follow their protocol's on_restart: \(interruptedAtStart)"
            )
        }
    }

    /// Records the outcomes an earlier daemon could not write to the database (a full disk), then blanks the journal.
    private static func recordJournaledOutcomes(_ journal: OutcomeJournal, store: RunStore, logger: Logger) {
        guard let entries = try? journal.entries(), !entries.isEmpty else { return }
        do {
            for entry in entries {
                try store.finishRun(entry.runID, outcome: entry.outcome, discardedReadings: entry.discardedReadings)
                logger.notice("run \(entry.runID): its outcome, kept while the database could not take it, is recorded")
            }
            try journal.clear()
        } catch {
            logger.error("the outcomes kept in \(journal.path) cannot be recorded yet: \(error)")
        }
    }

    /// Runs an earlier daemon left active; they are resumed (or not) by their protocol's `on_restart` once the
    /// daemon runs.
    let interruptedAtStart: [Int64]

    /// Continues the runs an earlier daemon left active, each on its rig, as their protocols' `on_restart` says. A
    /// run that cannot continue stays interrupted, with the reason.
    func resumeInterruptedRuns() async {
        for runID in interruptedAtStart {
            guard let run = try? store.run(id: runID) else { continue }
            guard let runner = runners[run.rigID] else {
                try? store.markInterrupted(
                    runID,
                    reason: "the daemon stopped while the run was active; its rig '\(run.rigID)' is no longer "
                        + "configured")
                continue
            }
            do {
                try await runner.restore(runID: runID, byHand: false)
            } catch {
                logger.warning("run \(runID) stays interrupted: \(error)")
                try? store.markInterrupted(
                    runID, reason: "the daemon stopped while the run was active; not resumed: \(error)")
            }
        }
    }

    /// Runs until SIGTERM/SIGINT (or until `shutdown` is triggered by the caller's service group).
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let notifier = SystemdNotifier()
        let server = ControlServer.application(
            backend: self, socketPath: configuration.socketPath, socketMode: configuration.socketMode,
            logger: logger,
            onReady: { [logger, configuration] in
                logger.info("cellrigd ready on \(configuration.socketPath); database \(configuration.databasePath)")
                notifier.notify("READY=1\nSTATUS=listening on \(configuration.socketPath)")
            })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: RigsService(daemon: self)),
            .init(service: server),
        ]
        if let interval = SystemdNotifier.watchdogInterval() {
            services.append(.init(service: WatchdogService(notifier: notifier, interval: interval)))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: signals, cancellationSignals: [], logger: logger))
        serviceGroup.withLock { $0 = group }
        try await group.run()
        notifier.notify("STOPPING=1")
    }

    /// Shuts the daemon down as SIGTERM does: stop serving, end active runs at open circuit, flush.
    public func shutdown() async {
        await serviceGroup.withLock { $0 }?.triggerGracefulShutdown()
    }

    /// Ends every running run as interrupted (cell to open circuit, data flushed).
    func interruptAll(reason: String) async {
        var interrupted: [Int64] = []
        for runner in runners.values { if let runID = await runner.runningRunID { interrupted.append(runID) } }
        await withTaskGroup(of: Void.self) { group in
            for runner in runners.values {
                group.addTask { try? await runner.requestStop(runID: nil, state: .interrupted, reason: reason) }
            }
        }
        // The next daemon resumes them as their protocols' on_restart says.
        do {
            try store.markForResumeOnStart(interrupted)
        } catch {
            logger.error("runs \(interrupted) cannot be marked for resuming at the next start: \(error)")
        }
    }

    // MARK: - ControlBackend

    public func health() async -> HealthInfo {
        HealthInfo(version: CellRigVersion.current, database: configuration.databasePath, rigs: runners.count)
    }

    public func rigs() async -> [RigInfo] {
        var infos: [RigInfo] = []
        for id in rigOrder { if let runner = runners[id] { infos.append(await runner.info) } }
        return infos
    }

    public func runs() async throws -> [RunStatus] {
        var statuses: [RunStatus] = []
        for run in try store.runs(limit: 50) { statuses.append(try await status(runID: run.id)) }
        return statuses
    }

    public func startRun(_ request: StartRunRequest) async throws -> RunStatus {
        guard let runner = runners[request.rig] else {
            throw ControlFailure.notFound(
                "no rig '\(request.rig)'; rigs here: \(rigOrder.joined(separator: ", "))")
        }
        let runID = try await runner.start(request)
        return try await status(runID: runID)
    }

    public func status(runID: Int64) async throws -> RunStatus {
        do {
            let runner = await runner(of: runID)
            let progress = await runner?.progress(runID: runID)
            let truth = await runner?.liveGroundTruth(runID: runID)
            return try await RunStatusBuilder(store: store, pendingOutcomes: pendingOutcomes)
                .status(runID: runID, progress: progress, truth: truth)
        } catch RunStatusBuilder.StatusError.noSuchRun(let id) {
            throw ControlFailure.notFound("no run \(id)")
        }
    }

    public func abort(runID: Int64) async throws -> RunStatus {
        guard let runner = await runner(of: runID) else {
            let current = try await status(runID: runID)
            throw ControlFailure.conflict("run \(runID) is not running (it is \(current.state))")
        }
        try await runner.requestStop(runID: runID, state: .aborted, reason: "aborted by the operator")
        return try await status(runID: runID)
    }

    public func resume(runID: Int64) async throws -> RunStatus {
        guard let runner = await runner(of: runID) else {
            let current = try await status(runID: runID)
            guard current.state == RunState.interrupted.rawValue, let rigRunner = runners[current.rig] else {
                throw ControlFailure.conflict("run \(runID) is not running (it is \(current.state))")
            }
            // An interrupted run continues by hand, whatever its protocol's on_restart says.
            try await rigRunner.restore(runID: runID, byHand: true)
            return try await status(runID: runID)
        }
        try await runner.resume(runID: runID)
        return try await status(runID: runID)
    }

    public func live(runID: Int64) async throws -> AsyncStream<LiveMessage> {
        let stream = hub.subscribe(runID: runID)
        let current = try await status(runID: runID)
        if current.isFinal {
            hub.publish(.end(current), runID: runID)
        } else if let progress = current.progress {
            hub.publish(.progress(progress), runID: runID)
        }
        return stream
    }

    private func runner(of runID: Int64) async -> RigRunner? {
        for runner in runners.values where await runner.runningRunID == runID { return runner }
        return nil
    }
}

/// Pings systemd's watchdog at half the interval it asked for, while the daemon's event loop is alive.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration

    func run() async throws {
        // The sleep ends at once on graceful shutdown, so the watchdog never holds up ending the runs.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                notifier.notify("WATCHDOG=1")
                try await Task.sleep(for: interval / 2)
            }
        }
    }
}

/// Keeps the rigs alive in the service group and interrupts their runs on graceful shutdown.
struct RigsService: Service {
    let daemon: CellRigDaemon

    func run() async throws {
        await daemon.resumeInterruptedRuns()
        try? await gracefulShutdown()
        daemon.logger.notice("shutting down: ending active runs at open circuit")
        await daemon.interruptAll(
            reason:
                "the daemon was asked to shut down; the next start resumes the run as its protocol's on_restart says")
    }
}
