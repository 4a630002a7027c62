import Foundation
import GRDB

/// What the fleet sync has sent to the central database, kept beside the data it describes.
///
/// Two mechanisms, both in migration "v6: sync watermarks":
/// - `samples` and `events` only grow, in `seq` order, so a watermark per run (`sync_watermarks`, the last `seq`
///   sent) says what is left to send. No trigger sits on the hot `samples` table.
/// - Rows that change after they are written (a run's state and result, a step's end, a refitted spectrum, the
///   simulator's ground truth) and the small append-only tables (spectra, instruments) are recorded in
///   `sync_changes` by triggers; the `changes` watermark is the last change sent. The migration seeds the log
///   with every row already there, so a database written before v6 is sent whole.
public enum SyncStream: String, Sendable, CaseIterable {
    case samples
    case events
    case changes
}

/// A row of `sync_changes`: which table changed for which run, and the step (or instrument row) when it matters.
public struct SyncChange: Sendable, Hashable {
    public var table: String
    public var runID: Int64
    /// The step index (`steps`, `impedance`, `impedance_fits`), the instrument's row id (`instruments`), or nil
    /// for the whole run's rows (`runs`, `ground_truth`).
    public var key: Int64?

    public init(table: String, runID: Int64, key: Int64?) {
        self.table = table
        self.runID = runID
        self.key = key
    }
}

/// One run's sync position: the newest sample and event stored and the newest sent.
public struct SyncRunPosition: Sendable, Hashable {
    public var runID: Int64
    public var state: String
    public var lastSampleSeq: Int64?
    public var lastEventSeq: Int64?
    /// -1 when nothing was sent yet.
    public var sentSampleSeq: Int64
    public var sentEventSeq: Int64

    public var hasUnsentSamples: Bool { (lastSampleSeq ?? -1) > sentSampleSeq }
    public var hasUnsentEvents: Bool { (lastEventSeq ?? -1) > sentEventSeq }
}

/// How much is stored locally and not yet sent.
public struct SyncBacklog: Sendable, Hashable {
    public var samples: Int
    public var events: Int
    public var changes: Int
    /// Runs with something unsent.
    public var runs: [Int64]
    /// The oldest unsent sample's run and the time it was stored is not known per sample; this is the `created_at`
    /// of the oldest run with unsent rows, as text, or nil when nothing is pending.
    public var oldestPendingRunCreatedAt: String?

    public var isEmpty: Bool { samples == 0 && events == 0 && changes == 0 }
}

/// A sample as the sync sends it: the stored columns, NULL readings kept NULL.
public struct SyncSampleRow: Sendable, Hashable {
    public var seq: Int64
    public var time_s: Double
    public var current_A: Double?
    public var voltage_V: Double?
    public var voltageWERE_V: Double?
    public var pressure_MPa: Double?
    public var temperature_C: Double?
    public var cycle: Int64
    public var stepIndex: Int64
    public var flags: Int64
}

/// Every column of one stored row, by name, as SQLite holds it (text, integer, real or NULL). The sync sends small
/// tables this way so that a column added to SQLite needs one change in the sync's column list, not a new type.
public struct SyncRow: Sendable, Hashable {
    public var values: [String: SyncValue]

    public subscript(_ column: String) -> SyncValue { values[column] ?? .null }
}

/// One SQLite value.
public enum SyncValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let integer): self = .integer(integer)
        case .double(let real): self = .real(real)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .text(String(decoding: data, as: UTF8.self))
        }
    }
}

/// The rows a batch of changes refers to, read in one snapshot.
public struct SyncChangedRows: Sendable {
    /// The last change number these rows cover; store it as the `changes` watermark once they are sent.
    public var throughChange: Int64
    public var runs: [SyncRow] = []
    public var steps: [SyncRow] = []
    public var impedance: [SyncRow] = []
    public var impedanceFits: [SyncRow] = []
    public var instruments: [SyncRow] = []
    /// Per run whose ground truth changed: its whole set (possibly empty), to replace what was sent.
    public var groundTruth: [Int64: [SyncRow]] = [:]

    public var isEmpty: Bool {
        runs.isEmpty && steps.isEmpty && impedance.isEmpty && impedanceFits.isEmpty && instruments.isEmpty
            && groundTruth.isEmpty
    }
}

extension RunStore {
    /// Migration "v6: sync watermarks": the watermark table, the change log with its triggers, and the log seeded
    /// with every row already stored.
    static func createSyncLedger(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE sync_watermarks (
                    stream TEXT NOT NULL,
                    run_id INTEGER NOT NULL,
                    position INTEGER NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (stream, run_id)
                ) WITHOUT ROWID;
                CREATE TABLE sync_changes (
                    change INTEGER PRIMARY KEY AUTOINCREMENT,
                    table_name TEXT NOT NULL,
                    run_id INTEGER NOT NULL,
                    key INTEGER
                );
                CREATE TRIGGER sync_runs_inserted AFTER INSERT ON runs BEGIN
                    INSERT INTO sync_changes (table_name, run_id) VALUES ('runs', NEW.id); END;
                CREATE TRIGGER sync_runs_updated AFTER UPDATE ON runs BEGIN
                    INSERT INTO sync_changes (table_name, run_id) VALUES ('runs', NEW.id); END;
                CREATE TRIGGER sync_steps_inserted AFTER INSERT ON steps BEGIN
                    INSERT INTO sync_changes (table_name, run_id, key) VALUES ('steps', NEW.run_id, NEW.step_index);
                    END;
                CREATE TRIGGER sync_steps_updated AFTER UPDATE ON steps BEGIN
                    INSERT INTO sync_changes (table_name, run_id, key) VALUES ('steps', NEW.run_id, NEW.step_index);
                    END;
                CREATE TRIGGER sync_impedance_inserted AFTER INSERT ON impedance BEGIN
                    INSERT INTO sync_changes (table_name, run_id, key)
                        VALUES ('impedance', NEW.run_id, NEW.step_index); END;
                CREATE TRIGGER sync_fits_inserted AFTER INSERT ON impedance_fits BEGIN
                    INSERT INTO sync_changes (table_name, run_id, key)
                        VALUES ('impedance_fits', NEW.run_id, NEW.step_index); END;
                CREATE TRIGGER sync_fits_updated AFTER UPDATE ON impedance_fits BEGIN
                    INSERT INTO sync_changes (table_name, run_id, key)
                        VALUES ('impedance_fits', NEW.run_id, NEW.step_index); END;
                CREATE TRIGGER sync_instruments_inserted AFTER INSERT ON instruments BEGIN
                    INSERT INTO sync_changes (table_name, run_id, key)
                        VALUES ('instruments', NEW.run_id, NEW.rowid); END;
                CREATE TRIGGER sync_ground_truth_inserted AFTER INSERT ON ground_truth BEGIN
                    INSERT INTO sync_changes (table_name, run_id) VALUES ('ground_truth', NEW.run_id); END;
                CREATE TRIGGER sync_ground_truth_deleted AFTER DELETE ON ground_truth BEGIN
                    INSERT INTO sync_changes (table_name, run_id) VALUES ('ground_truth', OLD.run_id); END;
                """)
        try createSyncChangeSeed(db)
    }

    /// The tables the fleet sync copies, by their name in both databases.
    public static let syncedTables = [
        "runs", "steps", "samples", "events", "impedance", "impedance_fits", "instruments", "ground_truth",
    ]

    /// Rows of each synced table per run: what the central database must hold for this daemon.
    public func rowCountsByRun() throws -> [String: [Int64: Int]] {
        try pool.read { db in
            var counts: [String: [Int64: Int]] = [:]
            for table in Self.syncedTables {
                let runColumn = table == "runs" ? "id" : "run_id"
                let rows = try Row.fetchAll(
                    db, sql: "SELECT \(runColumn), COUNT(*) FROM \(table) GROUP BY \(runColumn)")
                counts[table] = Dictionary(uniqueKeysWithValues: rows.map { (($0[0] as Int64), ($0[1] as Int)) })
            }
            return counts
        }
    }

    /// Every run with its newest stored and newest sent sample and event.
    public func syncPositions() async throws -> [SyncRunPosition] {
        try await readInBackground { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.state,
                        (SELECT MAX(seq) FROM samples WHERE run_id = r.id) AS last_sample,
                        (SELECT MAX(seq) FROM events WHERE run_id = r.id) AS last_event,
                        COALESCE(ws.position, -1) AS sent_sample, COALESCE(we.position, -1) AS sent_event
                    FROM runs r
                    LEFT JOIN sync_watermarks ws ON ws.stream = 'samples' AND ws.run_id = r.id
                    LEFT JOIN sync_watermarks we ON we.stream = 'events' AND we.run_id = r.id
                    ORDER BY r.id
                    """
            ).map { row in
                SyncRunPosition(
                    runID: row[0], state: row[1], lastSampleSeq: row[2], lastEventSeq: row[3], sentSampleSeq: row[4],
                    sentEventSeq: row[5])
            }
        }
    }

    /// How much is stored and not yet sent, counted exactly.
    public func syncBacklog() async throws -> SyncBacklog {
        try await readInBackground { db in
            var backlog = SyncBacklog(samples: 0, events: 0, changes: 0, runs: [])
            let positions = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.created_at, COALESCE(ws.position, -1), COALESCE(we.position, -1)
                    FROM runs r
                    LEFT JOIN sync_watermarks ws ON ws.stream = 'samples' AND ws.run_id = r.id
                    LEFT JOIN sync_watermarks we ON we.stream = 'events' AND we.run_id = r.id
                    ORDER BY r.id
                    """)
            let changesSent =
                try Int64.fetchOne(
                    db, sql: "SELECT position FROM sync_watermarks WHERE stream = 'changes' AND run_id = 0") ?? 0
            let changedRuns = Set(
                try Int64.fetchAll(
                    db, sql: "SELECT DISTINCT run_id FROM sync_changes WHERE change > ?", arguments: [changesSent]))
            backlog.changes =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM sync_changes WHERE change > ?", arguments: [changesSent])
                ?? 0
            for row in positions {
                let runID: Int64 = row[0]
                let samples =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM samples WHERE run_id = ? AND seq > ?",
                        arguments: [runID, row[2] as Int64]) ?? 0
                let events =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM events WHERE run_id = ? AND seq > ?",
                        arguments: [runID, row[3] as Int64]) ?? 0
                backlog.samples += samples
                backlog.events += events
                if samples > 0 || events > 0 || changedRuns.contains(runID) {
                    if backlog.runs.isEmpty { backlog.oldestPendingRunCreatedAt = row[1] }
                    backlog.runs.append(runID)
                }
            }
            return backlog
        }
    }

    /// Folds up to `limit` samples of a run after `seq`, in order, into `initial`, in one read transaction.
    public func syncSamples<T: Sendable>(
        runID: Int64, after seq: Int64, limit: Int, into initial: T,
        _ update: @escaping @Sendable (inout T, SyncSampleRow) -> Void
    ) async throws -> T {
        try await readInBackground { db in
            var result = initial
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT seq, time_s, current_A, voltage_V, voltage_we_re_V, pressure_MPa, temperature_C, cycle,
                        step_index, flags
                    FROM samples WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?
                    """, arguments: [runID, seq, limit])
            while let row = try cursor.next() {
                update(
                    &result,
                    SyncSampleRow(
                        seq: row[0], time_s: row[1], current_A: row[2], voltage_V: row[3], voltageWERE_V: row[4],
                        pressure_MPa: row[5], temperature_C: row[6], cycle: row[7], stepIndex: row[8],
                        flags: row[9]))
            }
            return result
        }
    }

    /// Up to `limit` events of a run after `seq`, in order.
    public func syncEvents(runID: Int64, after seq: Int64, limit: Int) async throws -> [SyncRow] {
        try await readInBackground { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                arguments: [runID, seq, limit]
            ).map(Self.syncRow)
        }
    }

    /// The changes after the `changes` watermark (at most `limit`), with the rows they name, in one snapshot.
    public func syncChangedRows(limit: Int) async throws -> SyncChangedRows? {
        try await readInBackground { db in
            let sent =
                try Int64.fetchOne(
                    db, sql: "SELECT position FROM sync_watermarks WHERE stream = 'changes' AND run_id = 0") ?? 0
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT change, table_name, run_id, key FROM sync_changes WHERE change > ? ORDER BY change LIMIT ?",
                arguments: [sent, limit])
            guard let last = rows.last else { return nil }
            var seen = Set<SyncChange>()
            var changes: [SyncChange] = []
            for row in rows {
                let change = SyncChange(table: row[1], runID: row[2], key: row[3])
                if seen.insert(change).inserted { changes.append(change) }
            }
            var result = SyncChangedRows(throughChange: last[0])
            for change in changes {
                let key = change.key ?? -1
                switch change.table {
                case "runs":
                    result.runs += try Self.syncRows(db, "SELECT * FROM runs WHERE id = ?", [change.runID])
                case "steps":
                    result.steps += try Self.syncRows(
                        db, "SELECT * FROM steps WHERE run_id = ? AND step_index = ?", [change.runID, key])
                case "impedance":
                    result.impedance += try Self.syncRows(
                        db, "SELECT * FROM impedance WHERE run_id = ? AND step_index = ? ORDER BY point",
                        [change.runID, key])
                case "impedance_fits":
                    result.impedanceFits += try Self.syncRows(
                        db, "SELECT * FROM impedance_fits WHERE run_id = ? AND step_index = ?", [change.runID, key])
                case "instruments":
                    result.instruments += try Self.syncRows(
                        db, "SELECT rowid AS instrument_id, * FROM instruments WHERE rowid = ?", [key])
                case "ground_truth":
                    result.groundTruth[change.runID] = try Self.syncRows(
                        db, "SELECT * FROM ground_truth WHERE run_id = ? ORDER BY time_s, kind", [change.runID])
                default:
                    continue
                }
            }
            return result
        }
    }

    /// Records what was sent: watermarks of streams per run (the `changes` stream uses run 0), and forgets the
    /// change log up to the `changes` watermark. One small write transaction.
    public func advanceSyncWatermarks(_ positions: [(stream: SyncStream, runID: Int64, position: Int64)]) async throws {
        guard !positions.isEmpty else { return }
        let now = timestamp(Date())
        try await writeInBackground { db in
            for (stream, runID, position) in positions {
                try db.execute(
                    sql: """
                        INSERT INTO sync_watermarks (stream, run_id, position, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (stream, run_id) DO UPDATE SET position = excluded.position,
                            updated_at = excluded.updated_at
                        WHERE excluded.position > sync_watermarks.position
                        """, arguments: [stream.rawValue, runID, position, now])
                if stream == .changes {
                    try db.execute(sql: "DELETE FROM sync_changes WHERE change <= ?", arguments: [position])
                }
            }
        }
    }

    /// Forgets every watermark, so the next sync sends everything again (the central database keeps one copy).
    public func resetSyncWatermarks() throws {
        try write { db in
            try db.execute(sql: "DELETE FROM sync_watermarks")
            try Self.createSyncChangeSeed(db)
        }
    }

    private static func createSyncChangeSeed(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO sync_changes (table_name, run_id) SELECT 'runs', id FROM runs ORDER BY id;
                INSERT INTO sync_changes (table_name, run_id, key)
                    SELECT 'instruments', run_id, rowid FROM instruments ORDER BY rowid;
                INSERT INTO sync_changes (table_name, run_id, key)
                    SELECT 'steps', run_id, step_index FROM steps ORDER BY run_id, step_index;
                INSERT INTO sync_changes (table_name, run_id, key)
                    SELECT DISTINCT 'impedance', run_id, step_index FROM impedance ORDER BY run_id, step_index;
                INSERT INTO sync_changes (table_name, run_id, key)
                    SELECT DISTINCT 'impedance_fits', run_id, step_index FROM impedance_fits
                    ORDER BY run_id, step_index;
                INSERT INTO sync_changes (table_name, run_id)
                    SELECT DISTINCT 'ground_truth', run_id FROM ground_truth ORDER BY run_id;
                """)
    }

    private static func syncRows(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws -> [SyncRow] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map(syncRow)
    }

    private static func syncRow(_ row: Row) -> SyncRow {
        var values: [String: SyncValue] = [:]
        for (column, value) in row { values[column] = SyncValue(value) }
        return SyncRow(values: values)
    }

    /// Runs `body` in a read transaction on GRDB's reader pool; the caller's task waits without holding a thread.
    func readInBackground<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(path: path, cause: StorageError.Cause(error), detail: "read failed: \(error)")
        }
    }
}
