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
public final class CellRigDaemon: ControlBackend {
    public let configuration: DaemonConfiguration
    let store: RunStore
    let hub = RunHub()
    let runners: [String: RigRunner]
    let rigOrder: [String]
    let logger: Logger
    /// Copies every row into the lab's central PostgreSQL database, when the configuration has `sync:`.
    let fleetSync: FleetSyncService?
    private let serviceGroup = Mutex<ServiceGroup?>(nil)

    public init(configuration: DaemonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        store = try RunStore(path: configuration.databasePath)
        var runners: [String: RigRunner] = [:]
        for rig in configuration.rigs {
            runners[rig.id] = RigRunner(rig: rig, store: store, hub: hub, logger: logger)
        }
        self.runners = runners
        rigOrder = configuration.rigs.map(\.id)
        fleetSync = configuration.sync.map { [store] in FleetSyncService(settings: $0, store: store, logger: logger) }
        let abandoned = try store.interruptAbandonedRuns(reason: "the daemon stopped while the run was active")
        if !abandoned.isEmpty {
            logger.warning("runs left active by an earlier daemon are now marked interrupted: \(abandoned)")
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
        // First in the group, so it shuts down last: its final round sends the runs the rigs have just ended.
        if let fleetSync { services.insert(.init(service: fleetSync), at: 0) }
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
        await withTaskGroup(of: Void.self) { group in
            for runner in runners.values {
                group.addTask { try? await runner.requestStop(runID: nil, state: .interrupted, reason: reason) }
            }
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
            return try await RunStatusBuilder(store: store).status(runID: runID, progress: progress, truth: truth)
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
            throw ControlFailure.conflict("run \(runID) is not running (it is \(current.state))")
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
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            notifier.notify("WATCHDOG=1")
            try? await Task.sleep(for: interval / 2)
        }
    }
}

/// Keeps the rigs alive in the service group and interrupts their runs on graceful shutdown.
struct RigsService: Service {
    let daemon: CellRigDaemon

    func run() async throws {
        try? await gracefulShutdown()
        daemon.logger.notice("shutting down: ending active runs at open circuit")
        await daemon.interruptAll(reason: "the daemon was asked to shut down")
    }
}
