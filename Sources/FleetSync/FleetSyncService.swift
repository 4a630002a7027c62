import Domain
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage
import Synchronization

/// The daemon's sync service: copies every row into the lab's central PostgreSQL database, round after round.
///
/// It only reads the daemon's SQLite file (WAL readers never block the writer) and writes a few watermark rows, so a
/// running test never waits for it. When the server is away it retries with back-off (1 s doubling to 60 s) on a
/// new connection, and resumes from the watermarks. It holds at most one batch of samples in memory. On graceful
/// shutdown (after the rigs have ended their runs) it makes one last round of at most 10 s.
public final class FleetSyncService: Service, Sendable {
    /// What the service knows about itself, for `GET /v1/sync`.
    public struct Status: Sendable, Hashable {
        public var daemonID: String
        public var server: String
        public var connected = false
        public var schemaVersion: Int?
        public var lastRoundAt: Date?
        /// Every row stored before this is in the central database.
        public var syncedThrough: Date?
        public var lastError: String?
        public var lastErrorAt: Date?
        public var consecutiveFailures = 0
        public var nextAttemptAt: Date?
        /// Totals since the daemon started.
        public var sentSamples = 0
        public var sentEvents = 0
        public var sentChanges = 0
    }

    public let settings: FleetSyncSettings
    let store: RunStore
    let logger: Logger
    private let state: Mutex<Status>
    static let initialBackoff: Duration = .seconds(1)
    static let maximumBackoff: Duration = .seconds(60)
    static let finalRoundLimit: Duration = .seconds(10)

    public init(settings: FleetSyncSettings, store: RunStore, logger: Logger) {
        self.settings = settings
        self.store = store
        var logger = logger
        logger[metadataKey: "service"] = "fleet-sync"
        self.logger = logger
        state = Mutex(Status(daemonID: settings.daemonID, server: settings.endpoint.description))
    }

    public var status: Status { state.withLock { $0 } }

    public func run() async throws {
        logger.info("fleet sync of daemon '\(settings.daemonID)' to \(settings.endpoint)")
        var backoff = Self.initialBackoff
        while !Task.isCancelled {
            do {
                try await session { backoff = Self.initialBackoff }
                return
            } catch {
                let message = describe(error)
                let repeated = state.withLock { status in
                    let repeated = status.lastError == message
                    status.connected = false
                    status.lastError = message
                    status.lastErrorAt = Date()
                    status.consecutiveFailures += 1
                    status.nextAttemptAt = Date().addingTimeInterval(Double(backoff.components.seconds))
                    return repeated
                }
                if repeated {
                    logger.debug("fleet sync still failing: \(message)")
                } else {
                    logger.warning("fleet sync failed (the bench goes on; retrying in \(backoff)): \(message)")
                }
                if Task.isShuttingDownGracefully { return }
                let wait = backoff
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                if Task.isShuttingDownGracefully { return }
                backoff = min(backoff * 2, Self.maximumBackoff)
            }
        }
    }

    /// One connection's life: migrate, then rounds until graceful shutdown, then a last bounded round.
    private func session(onSuccess: () -> Void) async throws {
        let password = try FleetConnection.password(settings.password)
        var backgroundLogger = logger
        backgroundLogger.logLevel = .error
        let client = PostgresClient(
            configuration: try FleetConnection.configuration(settings.endpoint, password: password),
            backgroundLogger: backgroundLogger)
        let engine = FleetSyncEngine(
            store: store, client: client, daemonID: settings.daemonID, batchSamples: settings.batchSamples,
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let (daemonID, logger) = (settings.daemonID, logger)
            try await cancelWhenGracefulShutdown {
                try await engine.withDeadline("migrating the central schema") {
                    _ = try await FleetSchema.migrate(client, appliedBy: daemonID, logger: logger)
                }
            }
            state.withLock {
                $0.schemaVersion = FleetSchema.currentVersion
                $0.connected = true
            }
            while !Task.isShuttingDownGracefully {
                try await cancelWhenGracefulShutdown { try await self.round(engine) }
                onSuccess()
                try? await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .milliseconds(Int(self.settings.interval_s * 1000)))
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { final in
                final.addTask { try await self.round(engine) }
                final.addTask {
                    try await Task.sleep(for: Self.finalRoundLimit)
                    throw FleetError.unreachable("the last round before shutdown took longer than 10 s")
                }
                defer { final.cancelAll() }
                try await final.next()
            }
        }
    }

    private func round(_ engine: FleetSyncEngine) async throws {
        let summary = try await engine.round()
        state.withLock { status in
            status.connected = true
            status.lastRoundAt = Date()
            status.syncedThrough = summary.syncedThrough
            status.lastError = nil
            status.consecutiveFailures = 0
            status.nextAttemptAt = nil
            status.sentSamples += summary.samples
            status.sentEvents += summary.events
            status.sentChanges += summary.changes
        }
        if summary.samples + summary.events + summary.changes > 0 {
            logger.debug(
                "fleet sync sent \(summary.samples) samples, \(summary.events) events, \(summary.changes) changed rows")
        }
    }
}

/// True for the errors postgres-nio throws (server errors, lost connections, a pool that could not connect).
public func isPostgresError(_ error: any Error) -> Bool {
    error is PSQLError || error is PostgresTransactionError || String(reflecting: type(of: error)).contains("Postgres")
        || String(reflecting: type(of: error)).contains("ConnectionPool")
}

/// A PostgreSQL error in words: postgres-nio's own description hides the server's message.
public func describe(_ error: any Error) -> String {
    if let error = error as? PSQLError {
        if let message = error.serverInfo?[.message] {
            var text = "PostgreSQL: \(message)"
            if let detail = error.serverInfo?[.detail] { text += " (\(detail))" }
            if let state = error.serverInfo?[.sqlState] { text += " [\(state)]" }
            return text
        }
        if let underlying = error.underlying { return "PostgreSQL \(error.code): \(underlying)" }
        return "PostgreSQL \(error.code)"
    }
    if let error = error as? PostgresTransactionError {
        if let inner = error.closureError ?? error.commitError ?? error.beginError { return describe(inner) }
    }
    return "\(error)"
}
