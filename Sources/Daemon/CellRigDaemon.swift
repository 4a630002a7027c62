import Control
import ControlServer
import Domain
import FleetSync
import Logging
import ServiceLifecycle
import Storage
import Synchronization
import UnixSignals

/// The daemon's composition root: the database, one ``RigRunner`` per rig, and the control server, run as a
/// `ServiceGroup`. SIGTERM or SIGINT shut it down gracefully: the control server stops accepting requests,
/// every running run is ended as `interrupted` with its cell at open circuit and its data flushed.
public final class CellRigDaemon: Sendable {
    public let configuration: DaemonConfiguration
    let store: RunStore
    let journal: OutcomeJournal
    let pendingOutcomes = PendingOutcomes()
    let hub = RunHub()
    let runners: RigRegistry
    /// Each rig's queue of runs to start when it is free.
    let queue: RunQueue
    /// Delivers notifications when the configuration has `notify:`.
    let notifier: Notifier?
    /// What every run uses (the database, the journal, the live hub, the log); new rigs of a reload get it too.
    let services: RunServices
    let logger: Logger
    /// Copies every row into the lab's central PostgreSQL database, when the configuration has `sync:`.
    let fleetSync: FleetSyncService?
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
        self.services = services
        runners = RigRegistry(configuration.rigs.map { RigRunner(rig: $0, services: services) })
        let queue = RunQueue(store: store, runners: runners, logger: logger)
        self.queue = queue
        hub.observe { _, message in
            // A rig that became free may start its next queued run.
            if case .end(let status) = message { Task { await queue.advance(rigID: status.rig) } }
        }
        if let settings = configuration.notify {
            let notifier = Notifier(settings: settings, store: store, logger: logger)
            self.notifier = notifier
            hub.observe { runID, message in notifier.submit(message, runID: runID) }
        } else {
            notifier = nil
        }
        interruptedAtStart = try store.interruptAbandonedRuns(reason: "the daemon stopped while the run was active")
        if !interruptedAtStart.isEmpty {
            logger.warning(
                "runs left active by an earlier daemon are marked interrupted and follow their protocol's on_restart: \(interruptedAtStart)"
            )
        }
        fleetSync = configuration.sync.map { [store] in FleetSyncService(settings: $0, store: store, logger: logger) }
    }

    /// Runs an earlier daemon left active; they are resumed (or not) by their protocol's `on_restart` once the
    /// daemon runs.
    let interruptedAtStart: [Int64]

    /// Runs until SIGTERM/SIGINT (or until `shutdown` is triggered by the caller's service group).
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let notifier = SystemdNotifier()
        let server = ControlServer.application(
            backend: self, socketPath: configuration.socketPath, socketMode: configuration.socketMode,
            limits: configuration.serverLimits, logger: logger,
            onReady: { [logger, configuration] in
                logger.info("cellrigd ready on \(configuration.socketPath); database \(configuration.databasePath)")
                notifier.notify("READY=1\nSTATUS=listening on \(configuration.socketPath)")
            })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // First in the list, so it stops last: the runs a shutdown interrupts are still told.
        if let runNotifier = self.notifier { services.append(.init(service: NotifyService(notifier: runNotifier))) }
        services.append(.init(service: RigsService(daemon: self)))
        services.append(.init(service: server))
        if signals.contains(.sigterm) {
            services.append(.init(service: ReloadService(daemon: self)))
        }
        // First in the group, so it shuts down last: its final round sends the runs the rigs have just ended.
        if let fleetSync { services.insert(.init(service: fleetSync), at: 0) }
        if let interval = SystemdNotifier.watchdogInterval() {
            services.append(.init(service: WatchdogService(notifier: notifier, interval: interval)))
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: signals, cancellationSignals: [], logger: logger)
        // Shorter than the unit's TimeoutStopSec (30 s), so systemd never kills a daemon still ending its runs.
        groupConfiguration.maximumGracefulShutdownDuration = Self.shutdownDeadline
        let group = ServiceGroup(configuration: groupConfiguration)
        serviceGroup.withLock { $0 = group }
        try await group.run()
        notifier.notify("STOPPING=1")
    }

    /// The longest a graceful shutdown may take before the service group cancels what is left.
    static let shutdownDeadline: Duration = .seconds(20)

    /// Shuts the daemon down as SIGTERM does: stop serving, end active runs at open circuit, flush.
    public func shutdown() async {
        await serviceGroup.withLock { $0 }?.triggerGracefulShutdown()
    }

    /// Ends every running run as interrupted (cell to open circuit, data flushed).
    func interruptAll(reason: String) async {
        var interrupted: [Int64] = []
        for runner in runners.all { if let runID = await runner.runningRunID { interrupted.append(runID) } }
        await withTaskGroup(of: Void.self) { group in
            for runner in runners.all {
                group.addTask { [logger] in
                    // A rig that takes long to end its run is named, so a slow shutdown says who held it up.
                    let slow = Task {
                        try await Task.sleep(for: .seconds(5))
                        logger.warning("shutting down: rig '\(runner.rigID)' is still ending its run")
                    }
                    try? await runner.requestStop(runID: nil, state: .interrupted, reason: reason)
                    slow.cancel()
                }
            }
        }
        // The next daemon resumes them as their protocols' on_restart says.
        do {
            try store.markForResumeOnStart(interrupted)
        } catch {
            logger.error("runs \(interrupted) cannot be marked for resuming at the next start: \(error)")
        }
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
        // The queues go on once the interrupted runs are resumed or settled.
        await daemon.queue.open()
        try? await gracefulShutdown()
        await daemon.queue.close()
        daemon.logger.notice("shutting down: ending active runs at open circuit")
        await daemon.interruptAll(
            reason:
                "the daemon was asked to shut down; the next start resumes the run as its protocol's on_restart says")
    }
}

/// Reloads the rig folder on SIGHUP (`systemctl reload cellrigd`), until the daemon shuts down.
struct ReloadService: Service {
    let daemon: CellRigDaemon

    func run() async throws {
        let hangUps = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangUps {
                await daemon.reload()
                await daemon.queue.advanceAll()  // a new rig may have entries waiting
            }
        }
    }
}
