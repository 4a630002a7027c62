import Domain
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Storage

/// One daemon's rows on their way into the central database: reads what is past the watermarks in SQLite, sends it,
/// and moves the watermarks only after PostgreSQL has committed it. A round that fails half-way leaves the
/// watermarks where they were, and the rows it had sent are sent again next time, where the central keys
/// (daemon id plus the local keys) make them no-ops: nothing is lost and nothing counted twice.
public struct FleetSyncEngine: Sendable {
    /// What one round sent.
    public struct RoundSummary: Sendable, Hashable {
        public var samples = 0
        public var events = 0
        public var changes = 0
        /// Batches that met rows already in the central database (a round that failed after its commit) and were
        /// sent again through `ON CONFLICT DO NOTHING`.
        public var resentBatches = 0
        /// When the round started: every row stored before this is now in the central database.
        public var syncedThrough: Date
        public var backlog: SyncBacklog?
    }

    public let store: RunStore
    public let client: PostgresClient
    public let daemonID: String
    public let batchSamples: Int
    let batchRows = 2_000
    /// The longest one exchange with the server (a batch, a transaction of changed rows) may take.
    public var deadline: Duration = .seconds(10)
    let logger: Logger

    public init(store: RunStore, client: PostgresClient, daemonID: String, batchSamples: Int, logger: Logger) {
        self.store = store
        self.client = client
        self.daemonID = daemonID
        self.batchSamples = max(1, batchSamples)
        self.logger = logger
    }

    /// Sends everything stored up to now: changed rows first (so a run's row precedes its samples where it can),
    /// then events and samples run by run, then this daemon's backlog to `cellrig.daemons`.
    public func round() async throws -> RoundSummary {
        var summary = RoundSummary(syncedThrough: Date())
        while let changed = try await store.syncChangedRows(limit: batchRows) {
            try await send(changed)
            try await store.advanceSyncWatermarks([(.changes, 0, changed.throughChange)])
            summary.changes +=
                changed.runs.count + changed.steps.count + changed.impedance.count
                + changed.impedanceFits.count + changed.instruments.count + changed.groundTruth.count
        }
        for position in try await store.syncPositions() {
            var sentEvent = position.sentEventSeq
            while position.hasUnsentEvents {
                let rows = try await store.syncEvents(runID: position.runID, after: sentEvent, limit: batchRows)
                guard let last = rows.last, case .integer(let seq) = last["seq"] else { break }
                let queries = try FleetTable.events.inserts(rows, daemonID: daemonID)
                try await withDeadline("sending events") { [client, logger] in
                    try await client.withTransaction(logger: logger) { connection in
                        for query in queries { try await connection.query(query, logger: logger) }
                    }
                }
                try await store.advanceSyncWatermarks([(.events, position.runID, seq)])
                summary.events += rows.count
                sentEvent = seq
                if rows.count < batchRows { break }
            }
            var sentSample = position.sentSampleSeq
            while position.hasUnsentSamples {
                let batch = try await sendSamples(runID: position.runID, after: sentSample)
                guard let last = batch.lastSeq else { break }
                try await store.advanceSyncWatermarks([(.samples, position.runID, last)])
                summary.samples += batch.count
                if batch.resent { summary.resentBatches += 1 }
                sentSample = last
                if batch.count < batchSamples { break }
            }
        }
        let backlog = try await store.syncBacklog()
        summary.backlog = backlog
        try await report(backlog, caughtUpAt: backlog.isEmpty ? summary.syncedThrough : nil)
        return summary
    }

    /// Changed rows of the small tables, in one transaction.
    func send(_ changed: SyncChangedRows) async throws {
        var queries: [PostgresQuery] = []
        queries += try FleetTable.runs.inserts(changed.runs, daemonID: daemonID)
        queries += try FleetTable.steps.inserts(changed.steps, daemonID: daemonID)
        queries += try FleetTable.impedance.inserts(changed.impedance, daemonID: daemonID)
        queries += try FleetTable.impedanceFits.inserts(changed.impedanceFits, daemonID: daemonID)
        queries += try FleetTable.instruments.inserts(changed.instruments, daemonID: daemonID)
        for (runID, truth) in changed.groundTruth.sorted(by: { $0.key < $1.key }) {
            queries.append("DELETE FROM cellrig.ground_truth WHERE daemon_id = \(daemonID) AND run_id = \(runID)")
            let numbered = truth.enumerated().map { ordinal, row in
                var row = row
                row.values["ordinal"] = .integer(Int64(ordinal))
                return row
            }
            queries += try FleetTable.groundTruth.inserts(numbered, daemonID: daemonID)
        }
        try await withDeadline("sending changed rows") { [client, logger, queries] in
            try await client.withTransaction(logger: logger) { connection in
                for query in queries { try await connection.query(query, logger: logger) }
            }
        }
    }

    struct SampleBatch {
        var count: Int
        var lastSeq: Int64?
        var resent: Bool
    }

    /// Reads up to `batchSamples` samples after `seq` and copies them in. The COPY goes straight into
    /// `cellrig.samples`; only if some of the rows are already there (an earlier round committed and failed before
    /// moving its watermark) is the batch copied into a temporary table and inserted with `ON CONFLICT DO NOTHING`.
    func sendSamples(runID: Int64, after seq: Int64) async throws -> SampleBatch {
        let encoder = SampleCopyText(daemonID: daemonID, runID: runID)
        let collected = try await store.collectSyncSamples(
            runID: runID, after: seq, limit: batchSamples, encoder: encoder)
        guard collected.count > 0 else { return SampleBatch(count: 0, lastSeq: nil, resent: false) }
        let text = collected.text
        let (client, logger) = (client, logger)
        do {
            try await withDeadline("copying samples") {
                try await client.withConnection { connection in
                    try await connection.inTransaction(logger: logger) {
                        try await connection.query("SET LOCAL search_path TO cellrig", logger: logger)
                        try await connection.copyFrom(
                            table: "samples", columns: FleetTable.sampleColumns, logger: logger
                        ) { writer in
                            try await writer.write(text)
                        }
                    }
                }
            }
            return SampleBatch(count: collected.count, lastSeq: collected.lastSeq, resent: false)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            logger.notice(
                "samples of run \(runID) after \(seq) are partly in the central database already; sending them again")
        }
        try await withDeadline("copying samples again") {
            try await client.withConnection { connection in
                try await connection.inTransaction(logger: logger) {
                    try await connection.query(
                        """
                        CREATE TEMPORARY TABLE IF NOT EXISTS samples_resent
                        (LIKE cellrig.samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
                        """, logger: logger)
                    try await connection.copyFrom(
                        table: "samples_resent", columns: FleetTable.sampleColumns, logger: logger
                    ) { writer in
                        try await writer.write(text)
                    }
                    try await connection.query(
                        "INSERT INTO cellrig.samples SELECT * FROM samples_resent ON CONFLICT DO NOTHING",
                        logger: logger)
                }
            }
        }
        return SampleBatch(count: collected.count, lastSeq: collected.lastSeq, resent: true)
    }

    /// Tells the central database how far behind this daemon is (`cellrig fleet status` reads it).
    func report(_ backlog: SyncBacklog, caughtUpAt: Date?) async throws {
        let positions = try await store.syncPositions()
        let active = positions.filter { ["starting", "running", "paused"].contains($0.state) }.count
        let hostname = ProcessInfo.processInfo.hostName
        let (client, logger, daemonID) = (client, logger, daemonID)
        try await withDeadline("reporting the backlog") {
            try await client.query(
                """
                INSERT INTO cellrig.daemons (daemon_id, hostname, software_version, last_contact, caught_up_at,
                    pending_samples, pending_events, pending_changes, local_runs, active_runs)
                VALUES (\(daemonID), \(hostname), \(CellRigVersion.current), now(), \(caughtUpAt),
                    \(backlog.samples), \(backlog.events), \(backlog.changes), \(positions.count), \(active))
                ON CONFLICT (daemon_id) DO UPDATE SET hostname = excluded.hostname,
                    software_version = excluded.software_version, last_contact = now(),
                    caught_up_at = COALESCE(excluded.caught_up_at, cellrig.daemons.caught_up_at),
                    pending_samples = excluded.pending_samples, pending_events = excluded.pending_events,
                    pending_changes = excluded.pending_changes, local_runs = excluded.local_runs,
                    active_runs = excluded.active_runs
                """, logger: logger)
        }
    }

    /// Runs one exchange with the server, or fails when it has not answered within ``deadline``: a server that went
    /// away must show as an error (and a retry), not as a round that never ends.
    func withDeadline(_ what: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let deadline = deadline
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                return false
            }
            defer { group.cancelAll() }
            guard try await group.next() == true else {
                throw FleetError.unreachable("\(what): no answer from the server within \(deadline)")
            }
        }
    }
}

extension PostgresConnection {
    /// BEGIN, `body`, COMMIT; ROLLBACK when `body` throws (ignoring a failed rollback on a broken connection).
    func inTransaction(logger: Logger, _ body: () async throws -> Void) async throws {
        try await query("BEGIN", logger: logger)
        do {
            try await body()
        } catch {
            _ = try? await query("ROLLBACK", logger: logger)
            throw error
        }
        try await query("COMMIT", logger: logger)
    }
}

extension RunStore {
    /// Samples after `seq` as COPY text, read in one SQLite transaction.
    func collectSyncSamples(runID: Int64, after seq: Int64, limit: Int, encoder: SampleCopyText) async throws
        -> (text: ByteBuffer, count: Int, lastSeq: Int64?)
    {
        let empty = (text: ByteBufferAllocator().buffer(capacity: limit * 96), count: 0, lastSeq: Int64?.none)
        return try await syncSamples(runID: runID, after: seq, limit: limit, into: empty) { collected, row in
            encoder.append(row, to: &collected.text)
            collected.count += 1
            collected.lastSeq = row.seq
        }
    }
}
