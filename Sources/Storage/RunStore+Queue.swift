import Domain
import Foundation
import GRDB

/// A protocol waiting in a rig's queue, or started from it, as stored in `queue_entries`.
public struct QueueEntryRecord: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Not started yet.
        case waiting
        /// Started as run ``QueueEntryRecord/runID``.
        case started
    }

    public var id: Int64
    public var rigID: String
    public var protocolName: String
    public var protocolFile: String
    public var protocolText: String
    public var parameters: [String: String]
    public var cellLabel: String?
    public var area_cm2: Double?
    /// What the queue does after this entry's run: the operator's choice or the protocol's `then:`.
    public var then: QueuePolicy
    public var addedAt: Date
    public var state: State
    public var runID: Int64?
    /// The state of the entry's run, once started.
    public var runState: RunState?
}

/// What a new queue entry holds.
public struct NewQueueEntry: Sendable, Hashable {
    public var rigID: String
    public var protocolName: String
    public var protocolFile: String
    public var protocolText: String
    public var parameters: [String: String]
    public var cellLabel: String?
    public var area_cm2: Double?
    public var then: QueuePolicy

    public init(
        rigID: String, protocolName: String, protocolFile: String, protocolText: String, parameters: [String: String],
        cellLabel: String?, area_cm2: Double?, then: QueuePolicy
    ) {
        self.rigID = rigID
        self.protocolName = protocolName
        self.protocolFile = protocolFile
        self.protocolText = protocolText
        self.parameters = parameters
        self.cellLabel = cellLabel
        self.area_cm2 = area_cm2
        self.then = then
    }
}

/// A rig's queue as a whole: the last run whose end it has judged, and why it is held, if it is.
public struct QueueRigRecord: Sendable, Hashable {
    public var rigID: String
    /// Runs on the rig up to this id have been judged (the queue went on after them or held).
    public var settledRunID: Int64
    /// Why the queue is held (nil: it goes on by itself).
    public var holdReason: String?
    /// The run whose end held it, when a run did.
    public var heldByRunID: Int64?
    public var heldAt: Date?

    public var isHeld: Bool { holdReason != nil }
}

/// Whether a queue entry could be removed.
public enum QueueRemoval: Sendable, Hashable {
    case removed
    case notFound
    /// The entry had already started this run.
    case alreadyStarted(runID: Int64)
}

extension RunStore {
    /// Creates the queue's tables (migration "v8: run queue").
    static func createQueueTables(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE queue_entries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    rig_id TEXT NOT NULL,
                    protocol_name TEXT NOT NULL,
                    protocol_file TEXT NOT NULL,
                    protocol_text TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    cell_label TEXT,
                    area_cm2 REAL,
                    then_policy TEXT NOT NULL,
                    added_at TEXT NOT NULL,
                    state TEXT NOT NULL,
                    run_id INTEGER REFERENCES runs(id)
                );
                CREATE INDEX queue_entries_by_rig ON queue_entries (rig_id, state, id);
                CREATE TABLE queue_rigs (
                    rig_id TEXT PRIMARY KEY,
                    settled_run_id INTEGER NOT NULL DEFAULT 0,
                    hold_reason TEXT,
                    held_by_run_id INTEGER,
                    held_at TEXT
                );
                CREATE INDEX runs_by_rig ON runs (rig_id, id);
                """)
    }

    /// Adds an entry at the end of its rig's queue; returns its id. When the rig's queue had nothing waiting, runs
    /// up to `settledRunID` (the rig's last ended run) are taken as judged: a queue started today is not held by
    /// a run that ended last week.
    public func addQueueEntry(_ entry: NewQueueEntry, settledRunID: Int64) throws -> Int64 {
        try write { db in
            let waiting =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM queue_entries WHERE rig_id = ? AND state = 'waiting'",
                    arguments: [entry.rigID]) ?? 0
            try db.execute(
                sql: "INSERT OR IGNORE INTO queue_rigs (rig_id, settled_run_id) VALUES (?, 0)",
                arguments: [entry.rigID])
            if waiting == 0 {
                try db.execute(
                    sql: "UPDATE queue_rigs SET settled_run_id = MAX(settled_run_id, ?) WHERE rig_id = ?",
                    arguments: [settledRunID, entry.rigID])
            }
            try db.execute(
                sql: """
                    INSERT INTO queue_entries (rig_id, protocol_name, protocol_file, protocol_text, parameters,
                        cell_label, area_cm2, then_policy, added_at, state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting')
                    """,
                arguments: [
                    entry.rigID, entry.protocolName, entry.protocolFile, entry.protocolText, try json(entry.parameters),
                    entry.cellLabel, entry.area_cm2, entry.then.rawValue, timestamp(Date()),
                ])
            return db.lastInsertedRowID
        }
    }

    /// The entries still to run (in order) and those whose run is going, of one rig or of every rig.
    public func queueEntries(rigID: String? = nil) throws -> [QueueEntryRecord] {
        try pool.read { db in
            var sql = """
                SELECT q.*, r.state AS run_state FROM queue_entries q LEFT JOIN runs r ON r.id = q.run_id
                WHERE (q.state = 'waiting' OR r.state IN ('starting', 'running', 'paused'))
                """
            var arguments: StatementArguments = []
            if let rigID {
                sql += " AND q.rig_id = ?"
                arguments = [rigID]
            }
            sql += " ORDER BY q.rig_id, q.id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.queueEntry)
        }
    }

    /// One entry, whatever its state.
    public func queueEntry(id: Int64) throws -> QueueEntryRecord? {
        try pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT q.*, r.state AS run_state FROM queue_entries q LEFT JOIN runs r ON r.id = q.run_id
                    WHERE q.id = ?
                    """, arguments: [id]
            ).map(Self.queueEntry)
        }
    }

    /// The entry that started run `runID`, if the queue started it.
    public func queueEntry(runID: Int64) throws -> QueueEntryRecord? {
        try pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT q.*, r.state AS run_state FROM queue_entries q LEFT JOIN runs r ON r.id = q.run_id
                    WHERE q.run_id = ?
                    """, arguments: [runID]
            ).map(Self.queueEntry)
        }
    }

    /// The next entry of a rig's queue.
    public func firstWaitingEntry(rigID: String) throws -> QueueEntryRecord? {
        try pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT q.*, NULL AS run_state FROM queue_entries q
                    WHERE q.rig_id = ? AND q.state = 'waiting' ORDER BY q.id LIMIT 1
                    """, arguments: [rigID]
            ).map(Self.queueEntry)
        }
    }

    /// The entry has started run `runID`.
    public func markQueueEntryStarted(_ id: Int64, runID: Int64) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE queue_entries SET state = 'started', run_id = ? WHERE id = ?", arguments: [runID, id])
        }
    }

    /// Removes a waiting entry.
    public func removeQueueEntry(_ id: Int64) throws -> QueueRemoval {
        try write { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT state, run_id FROM queue_entries WHERE id = ?", arguments: [id])
            else { return .notFound }
            if let runID: Int64 = row["run_id"] { return .alreadyStarted(runID: runID) }
            try db.execute(sql: "DELETE FROM queue_entries WHERE id = ?", arguments: [id])
            return .removed
        }
    }

    /// The rig's queue record (nil before anything was queued on it).
    public func queueRig(_ rigID: String) throws -> QueueRigRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM queue_rigs WHERE rig_id = ?", arguments: [rigID]).map(
                Self.queueRig)
        }
    }

    /// Every rig's queue record.
    public func queueRigs() throws -> [QueueRigRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM queue_rigs ORDER BY rig_id").map(Self.queueRig)
        }
    }

    /// Records that the queue judged the end of run `runID` (and every earlier run on the rig); with a reason, the
    /// queue is held until an operator releases it.
    public func settleQueue(rigID: String, runID: Int64, holdReason: String?) throws {
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO queue_rigs (rig_id, settled_run_id) VALUES (?, 0)", arguments: [rigID])
            try db.execute(
                sql: "UPDATE queue_rigs SET settled_run_id = MAX(settled_run_id, ?) WHERE rig_id = ?",
                arguments: [runID, rigID])
            if let holdReason {
                try db.execute(
                    sql: "UPDATE queue_rigs SET hold_reason = ?, held_by_run_id = ?, held_at = ? WHERE rig_id = ?",
                    arguments: [holdReason, runID, timestamp(Date()), rigID])
            }
        }
    }

    /// Holds a rig's queue for a reason that is not a run's end (an entry that could not start).
    public func holdQueue(rigID: String, reason: String) throws {
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO queue_rigs (rig_id, settled_run_id) VALUES (?, 0)", arguments: [rigID])
            try db.execute(
                sql: "UPDATE queue_rigs SET hold_reason = ?, held_by_run_id = NULL, held_at = ? WHERE rig_id = ?",
                arguments: [reason, timestamp(Date()), rigID])
        }
    }

    /// Releases a held queue; returns false when it was not held.
    public func releaseQueue(rigID: String) throws -> Bool {
        try write { db in
            try db.execute(
                sql: "UPDATE queue_rigs SET hold_reason = NULL, held_by_run_id = NULL, held_at = NULL "
                    + "WHERE rig_id = ? AND hold_reason IS NOT NULL",
                arguments: [rigID])
            return db.changesCount > 0
        }
    }

    /// The newest run on a rig, with its state.
    public func newestRun(rigID: String) throws -> (id: Int64, state: RunState)? {
        try pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, state FROM runs WHERE rig_id = ? ORDER BY id DESC LIMIT 1", arguments: [rigID])
            else { return nil }
            let state: String = row["state"]
            return (row["id"], RunState(rawValue: state) ?? .faulted)
        }
    }

    private static func queueEntry(_ row: Row) throws -> QueueEntryRecord {
        let parametersText: String = row["parameters"]
        let thenText: String = row["then_policy"]
        let stateText: String = row["state"]
        let addedText: String = row["added_at"]
        let runStateText: String? = row["run_state"]
        return QueueEntryRecord(
            id: row["id"], rigID: row["rig_id"], protocolName: row["protocol_name"], protocolFile: row["protocol_file"],
            protocolText: row["protocol_text"], parameters: try decodeJSON([String: String].self, from: parametersText),
            cellLabel: row["cell_label"], area_cm2: row["area_cm2"], then: QueuePolicy(rawValue: thenText) ?? .hold,
            addedAt: parseTimestamp(addedText) ?? Date(timeIntervalSince1970: 0),
            state: QueueEntryRecord.State(rawValue: stateText) ?? .started, runID: row["run_id"],
            runState: runStateText.flatMap(RunState.init(rawValue:)))
    }

    private static func queueRig(_ row: Row) -> QueueRigRecord {
        let heldText: String? = row["held_at"]
        return QueueRigRecord(
            rigID: row["rig_id"], settledRunID: row["settled_run_id"], holdReason: row["hold_reason"],
            heldByRunID: row["held_by_run_id"], heldAt: heldText.flatMap(parseTimestamp))
    }
}
