import Control
import Daemon
import Domain
import Foundation
import Logging
import PostgresNIO
import Storage
import TestSupport
import Testing

/// A daemon in this process with a `sync:` configuration, driven through its real socket.
struct SyncingDaemon {
    let daemon: CellRigDaemon
    let task: Task<Void, any Error>
    let client: ControlClient
    let directory: URL

    var databasePath: String { directory.appendingPathComponent("cellrig.sqlite").path }
    var socketPath: String { directory.appendingPathComponent("d.sock").path }

    static func start(id: String, endpoint: PostgresEndpoint, rigs: [RigDescription], interval_s: Double = 0.2)
        async throws -> SyncingDaemon
    {
        let directory = try TestSupport.scratchDirectory()
        let configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("d.sock").path,
            databasePath: directory.appendingPathComponent("cellrig.sqlite").path, rigs: rigs,
            sync: FleetSyncSettings(daemonID: id, endpoint: endpoint, interval_s: interval_s, batchSamples: 5_000))
        var logger = Logger(label: "fleet-test-\(id)")
        logger.logLevel = .error
        let daemon = try CellRigDaemon(configuration: configuration, logger: logger)
        let task = Task { try await daemon.run(signals: []) }
        let client = ControlClient(socketPath: configuration.socketPath)
        let up = try await TestSupport.eventually {
            (try? await TestSupport.onThread { try client.request("GET", "/v1/health", as: HealthInfo.self) }) != nil
        }
        #expect(up, "the daemon's socket answers")
        return SyncingDaemon(daemon: daemon, task: task, client: client, directory: directory)
    }

    func stop() async {
        await daemon.shutdown()
        _ = await task.result
    }

    func startRun(text: String, file: String, rig: String, parameters: [String: String] = [:]) async throws
        -> RunStatus
    {
        let request = StartRunRequest(
            protocol_file: file, protocol_text: text, rig: rig, cell_label: "fleet-cell", parameters: parameters)
        let client = client
        return try await TestSupport.onThread {
            try client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
        }
    }

    func startRun(_ path: String, rig: String, parameters: [String: String] = [:]) async throws -> RunStatus {
        try await startRun(
            text: try TestSupport.readRepositoryFile(path), file: path, rig: rig, parameters: parameters)
    }

    func status(_ runID: Int64) async throws -> RunStatus {
        let client = client
        return try await TestSupport.onThread { try client.request("GET", "/v1/runs/\(runID)", as: RunStatus.self) }
    }

    func abort(_ runID: Int64) async throws {
        let client = client
        _ = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(runID)/abort", as: RunStatus.self)
        }
    }

    func syncStatus() async throws -> SyncStatusInfo {
        let client = client
        return try await TestSupport.onThread { try client.request("GET", "/v1/sync", as: SyncStatusInfo.self) }
    }

    /// Waits until the run has ended (polling its status; the live stream is not needed here).
    func waitForEnd(_ runID: Int64, attempts: Int = 3000) async throws -> RunStatus {
        var final: RunStatus?
        let ended = try await TestSupport.eventually(attempts: attempts, interval: .milliseconds(100)) {
            let status = try await self.status(runID)
            final = status
            return status.isFinal
        }
        #expect(ended, "run \(runID) ended")
        return try #require(final)
    }

    /// Waits until the daemon says nothing is pending and a round has started after `after`.
    func waitForSync(after: Date = Date(), attempts: Int = 1200) async throws -> SyncStatusInfo {
        var last: SyncStatusInfo?
        let caughtUp = try await TestSupport.eventually(attempts: attempts, interval: .milliseconds(100)) {
            let status = try await self.syncStatus()
            last = status
            guard let through = status.synced_through,
                let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(through)
            else {
                return false
            }
            return status.pending_samples + status.pending_events + status.pending_changes == 0 && date > after
        }
        #expect(caughtUp, "the sync caught up: \(String(describing: last))")
        return try #require(last)
    }

    /// Rows of each synced table per run here, to compare with the central database.
    func localCounts() throws -> [String: [Int64: Int]] {
        let store = try RunStore(readOnlyPath: databasePath)
        return try store.rowCountsByRun()
    }
}

/// The simulated physics rig of `rigs/sim.yaml`, with another id and speed.
func simulatedRig(id: String, speed: SimulationSpeed = .unlimited) throws -> RigDescription {
    var rig = try DaemonConfiguration.embeddedSimulatedRig()
    rig.id = id
    guard case .simulated(var configuration) = rig.galvanostat else { throw CancellationError() }
    configuration.speed = speed
    rig.galvanostat = .simulated(configuration)
    return rig
}

/// The central database's rows of each table per run of one daemon.
func centralCounts(_ endpoint: PostgresEndpoint, daemonID: String) async throws -> [String: [Int64: Int]] {
    var counts: [String: [Int64: Int]] = [:]
    for table in RunStore.syncedTables {
        let rows = try await TestPostgres.withClient(endpoint) { client in
            var rows: [(Int64, Int64)] = []
            let query = PostgresQuery(
                unsafeSQL:
                    "SELECT run_id, COUNT(*) FROM cellrig.\(table) WHERE daemon_id = '\(daemonID)' GROUP BY run_id")
            for try await row in try await client.query(query, logger: TestPostgres.logger).decode(
                (Int64, Int64).self)
            {
                rows.append(row)
            }
            return rows
        }
        counts[table] = Dictionary(uniqueKeysWithValues: rows.map { ($0.0, Int($0.1)) })
    }
    return counts
}
