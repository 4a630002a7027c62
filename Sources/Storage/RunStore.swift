import Domain
import Foundation
import GRDB

/// Everything recorded when a run starts: enough to know later exactly what ran, on what, with what.
public struct RunStart: Sendable, Hashable, Codable {
    public var protocolName: String
    public var protocolFile: String
    public var protocolText: String
    public var protocolParameters: [String: String]
    public var rig: RigDescription
    public var cell: CellDescription
    public var area_cm2: Double
    public var plan: StepPlan
    public var instruments: [InstrumentIdentity]
    public var softwareVersion: String

    public init(
        protocolName: String, protocolFile: String, protocolText: String, protocolParameters: [String: String] = [:],
        rig: RigDescription, cell: CellDescription, area_cm2: Double, plan: StepPlan,
        instruments: [InstrumentIdentity], softwareVersion: String = CellRigVersion.current
    ) {
        self.protocolName = protocolName
        self.protocolFile = protocolFile
        self.protocolText = protocolText
        self.protocolParameters = protocolParameters
        self.rig = rig
        self.cell = cell
        self.area_cm2 = area_cm2
        self.plan = plan
        self.instruments = instruments
        self.softwareVersion = softwareVersion
    }
}

/// A run as stored: its start record, state and result.
public struct StoredRun: Sendable, Hashable {
    public var id: Int64
    public var state: RunState
    public var protocolName: String
    public var protocolFile: String
    public var protocolText: String
    public var protocolSHA256: String
    public var rigID: String
    public var cellLabel: String?
    public var area_cm2: Double
    public var threeElectrode: Bool
    public var softwareVersion: String
    public var createdAt: Date
    public var endedAt: Date?
    public var endReason: String?
    public var ccd_mA_cm2: Double?
    public var plannedSteps: Int
    public var reactionTime_s: Double?
}

/// Why the database could not be opened or written; says which file and what to do.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String { "database \(path): \(message)" }
}

/// The cellrig database: one SQLite file in WAL mode, migrated on open, one writer, readers never blocked.
///
/// Tables: `runs` (start record with protocol text and hash, rig, cell, plan, instruments, software version, state,
/// result), `steps`, `samples` (`(run_id, seq)` unique), `events`, `instruments`, `ground_truth`.
public final class RunStore: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` for writing.
    public init(path: String) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StorageError(path: path, message: "cannot open for writing: \(error)")
        }
    }

    /// Opens an existing database read-only (CLI export, replay): never blocks the daemon's writer.
    public init(readOnlyPath path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StorageError(path: path, message: "no such file; give the daemon's database with --database")
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StorageError(path: path, message: "cannot open read-only: \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs, steps, samples, events, instruments, ground truth") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        state TEXT NOT NULL,
                        protocol_name TEXT NOT NULL,
                        protocol_file TEXT NOT NULL,
                        protocol_text TEXT NOT NULL,
                        protocol_sha256 TEXT NOT NULL,
                        protocol_parameters TEXT NOT NULL,
                        rig_id TEXT NOT NULL,
                        rig TEXT NOT NULL,
                        cell TEXT NOT NULL,
                        cell_label TEXT,
                        area_cm2 REAL NOT NULL,
                        three_electrode INTEGER NOT NULL,
                        plan TEXT NOT NULL,
                        planned_steps INTEGER NOT NULL,
                        software_version TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        ended_at TEXT,
                        end_reason TEXT,
                        ccd_mA_cm2 REAL,
                        outcome TEXT
                    );
                    CREATE TABLE steps (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        step_index INTEGER NOT NULL,
                        cycle INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        current_A REAL NOT NULL,
                        current_density_mA_cm2 REAL NOT NULL,
                        start_time_s REAL NOT NULL,
                        end_time_s REAL,
                        end_reason TEXT,
                        charge_C REAL NOT NULL,
                        PRIMARY KEY (run_id, step_index)
                    ) WITHOUT ROWID;
                    CREATE TABLE samples (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        current_A REAL NOT NULL,
                        voltage_V REAL NOT NULL,
                        voltage_we_re_V REAL,
                        pressure_MPa REAL,
                        temperature_C REAL,
                        cycle INTEGER NOT NULL,
                        step_index INTEGER NOT NULL,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE events (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        recorded_at TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        step_index INTEGER,
                        message TEXT NOT NULL,
                        verdict TEXT,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE instruments (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        role TEXT NOT NULL,
                        model TEXT NOT NULL,
                        firmware TEXT NOT NULL,
                        serial_number TEXT NOT NULL,
                        port TEXT NOT NULL
                    );
                    CREATE TABLE ground_truth (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        kind TEXT NOT NULL,
                        time_s REAL NOT NULL,
                        electrode TEXT,
                        current_density_mA_cm2 REAL NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2: reaction time of stops") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN reaction_time_s REAL")
        }
        migrator.registerMigration("v3: impedance spectra") { db in
            try db.execute(
                sql: """
                    CREATE TABLE impedance (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        step_index INTEGER NOT NULL,
                        point INTEGER NOT NULL,
                        cycle INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        frequency_Hz REAL NOT NULL,
                        z_real_Ohm REAL NOT NULL,
                        z_imag_Ohm REAL NOT NULL,
                        PRIMARY KEY (run_id, step_index, point)
                    ) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v5: impedance fits", migrate: createImpedanceFitsTable)
        return migrator
    }

    // MARK: - Writing

    /// Records a new run's start record; returns its id.
    public func createRun(_ start: RunStart, threeElectrode: Bool) throws -> Int64 {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO runs (state, protocol_name, protocol_file, protocol_text, protocol_sha256,
                        protocol_parameters, rig_id, rig, cell, cell_label, area_cm2, three_electrode, plan,
                        planned_steps, software_version, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    RunState.starting.rawValue, start.protocolName, start.protocolFile, start.protocolText,
                    SHA256.hex(start.protocolText), try json(start.protocolParameters), start.rig.id,
                    try json(start.rig), try json(start.cell), start.cell.label, start.area_cm2, threeElectrode,
                    try json(start.plan), start.plan.steps.count, start.softwareVersion, timestamp(Date()),
                ])
            let id = db.lastInsertedRowID
            try Self.insertInstruments(start.instruments, runID: id, db: db)
            return id
        }
    }

    /// Adds instrument identities to a run's record (an instrument reopened during the run, perhaps on
    /// another port).
    public func appendInstruments(_ identities: [InstrumentIdentity], runID: Int64) throws {
        try write { db in try Self.insertInstruments(identities, runID: runID, db: db) }
    }

    private static func insertInstruments(_ identities: [InstrumentIdentity], runID: Int64, db: Database) throws {
        for instrument in identities {
            try db.execute(
                sql:
                    "INSERT INTO instruments (run_id, role, model, firmware, serial_number, port) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    runID, instrument.role, instrument.model, instrument.firmware, instrument.serialNumber,
                    instrument.port,
                ])
        }
    }

    public func setState(_ state: RunState, runID: Int64) throws {
        try write { db in
            try db.execute(sql: "UPDATE runs SET state = ? WHERE id = ?", arguments: [state.rawValue, runID])
        }
    }

    /// Stores samples, steps and events of one run in one transaction.
    public func append(
        runID: Int64, samples: [RecordedSample], steps: [StepRecordRow], events: [(seq: Int, event: RunEvent)]
    ) throws {
        guard !samples.isEmpty || !steps.isEmpty || !events.isEmpty else { return }
        try write { db in
            let sampleStatement = try db.cachedStatement(
                sql: """
                    INSERT INTO samples (run_id, seq, time_s, current_A, voltage_V, voltage_we_re_V, pressure_MPa,
                        temperature_C, cycle, step_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for recorded in samples {
                let sample = recorded.sample
                try sampleStatement.execute(arguments: [
                    runID, recorded.seq, sample.time_s, sample.current_A, sample.voltage_V, sample.voltageWERE_V,
                    sample.pressure_MPa, sample.temperature_C, recorded.cycle, recorded.stepIndex,
                ])
            }
            let stepStatement = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO steps (run_id, step_index, cycle, kind, current_A, current_density_mA_cm2,
                        start_time_s, end_time_s, end_reason, charge_C) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for step in steps {
                try stepStatement.execute(arguments: [
                    runID, step.index, step.cycle, step.kind, step.current_A, step.currentDensity_mA_cm2,
                    step.startTime_s, step.endTime_s, step.endReason, step.charge_C,
                ])
            }
            let eventStatement = try db.cachedStatement(
                sql: """
                    INSERT INTO events (run_id, seq, time_s, recorded_at, kind, step_index, message, verdict)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let now = timestamp(Date())
            for (seq, event) in events {
                try eventStatement.execute(arguments: [
                    runID, seq, event.time_s, now, event.kind.rawValue, event.stepIndex, event.message,
                    try event.verdict.map { try json($0) },
                ])
            }
        }
    }

    /// Records how a run ended.
    public func finishRun(_ runID: Int64, outcome: RunOutcome) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET state = ?, ended_at = ?, end_reason = ?, ccd_mA_cm2 = ?, outcome = ?,
                        reaction_time_s = ? WHERE id = ?
                    """,
                arguments: [
                    outcome.state.rawValue, timestamp(Date()), outcome.reason, outcome.ccd_mA_cm2, try json(outcome),
                    outcome.reactionTime_s, runID,
                ])
        }
    }

    /// Stores the spectrum an impedance step measured, in one transaction.
    public func appendSpectrum(runID: Int64, stepIndex: Int, cycle: Int, points: [ImpedancePoint]) throws {
        try write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO impedance (run_id, step_index, point, cycle, time_s, frequency_Hz, z_real_Ohm,
                        z_imag_Ohm) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for (index, point) in points.enumerated() {
                try statement.execute(arguments: [
                    runID, stepIndex, index, cycle, point.time_s, point.frequency_Hz, point.real_Ohm,
                    point.imaginary_Ohm,
                ])
            }
        }
    }

    public func recordGroundTruth(_ runID: Int64, events: [GroundTruthEvent]) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM ground_truth WHERE run_id = ?", arguments: [runID])
            for event in events {
                try db.execute(
                    sql:
                        "INSERT INTO ground_truth (run_id, kind, time_s, electrode, current_density_mA_cm2) VALUES (?, ?, ?, ?, ?)",
                    arguments: [runID, event.kind.rawValue, event.time_s, event.electrode, event.currentDensity_mA_cm2])
            }
        }
    }

    /// Marks runs left `starting`/`running` by a daemon that died as `interrupted`; returns their ids.
    public func interruptAbandonedRuns(reason: String) throws -> [Int64] {
        try write { db in
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM runs WHERE state IN ('starting', 'running', 'paused') ORDER BY id")
            for id in ids {
                try db.execute(
                    sql: "UPDATE runs SET state = 'interrupted', ended_at = ?, end_reason = ? WHERE id = ?",
                    arguments: [timestamp(Date()), reason, id])
            }
            return ids
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(path: path, message: "write failed: \(error)")
        }
    }

    // MARK: - Reading

    public func run(id: Int64) throws -> StoredRun? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(Self.storedRun)
        }
    }

    /// Runs, newest first.
    public func runs(limit: Int = 100) throws -> [StoredRun] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT ?", arguments: [limit]).map(
                Self.storedRun)
        }
    }

    /// The expanded plan recorded when the run started.
    public func plan(runID: Int64) throws -> StepPlan? {
        try pool.read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT plan FROM runs WHERE id = ?", arguments: [runID])
            else { return nil }
            return try JSONDecoder().decode(StepPlan.self, from: Data(text.utf8))
        }
    }

    /// The protocol a run executed, as recorded at its start: text, file name, parameter values and the cell.
    public func recordedProtocol(runID: Int64) throws -> RecordedProtocol? {
        let row = try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT protocol_text, protocol_file, protocol_parameters, cell FROM runs WHERE id = ?",
                arguments: [runID])
        }
        guard let row else { return nil }
        let parametersText: String = row["protocol_parameters"]
        let cellText: String = row["cell"]
        return RecordedProtocol(
            text: row["protocol_text"], file: row["protocol_file"],
            parameters: try JSONDecoder().decode([String: String].self, from: Data(parametersText.utf8)),
            cell: try JSONDecoder().decode(CellDescription.self, from: Data(cellText.utf8)))
    }

    /// The rig description recorded in a run's start record (instruments, ports, pressure calibration).
    public func rig(runID: Int64) throws -> RigDescription? {
        let text = try pool.read { db in
            try String.fetchOne(db, sql: "SELECT rig FROM runs WHERE id = ?", arguments: [runID])
        }
        return try text.map { try JSONDecoder().decode(RigDescription.self, from: Data($0.utf8)) }
    }

    public func sampleCount(runID: Int64) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM samples WHERE run_id = ?", arguments: [runID]) ?? 0
        }
    }

    /// Visits a run's samples in order, in batches, without loading them all at once.
    public func forEachSample(runID: Int64, _ body: (RecordedSample) throws -> Void) throws {
        try pool.read { db in
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT * FROM samples WHERE run_id = ? ORDER BY seq", arguments: [runID])
            while let row = try cursor.next() {
                let sample = InstrumentSample(
                    time_s: row["time_s"], current_A: row["current_A"], voltage_V: row["voltage_V"],
                    voltageWERE_V: row["voltage_we_re_V"], pressure_MPa: row["pressure_MPa"],
                    temperature_C: row["temperature_C"])
                try body(
                    RecordedSample(seq: row["seq"], sample: sample, stepIndex: row["step_index"], cycle: row["cycle"]))
            }
        }
    }

    public func events(runID: Int64) throws -> [RunEvent] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM events WHERE run_id = ? ORDER BY seq", arguments: [runID]).map {
                row in
                let verdictText: String? = row["verdict"]
                return RunEvent(
                    kind: RunEvent.Kind(rawValue: row["kind"]) ?? .fault, time_s: row["time_s"],
                    message: row["message"],
                    stepIndex: row["step_index"],
                    verdict: try verdictText.map { try JSONDecoder().decode(Verdict.self, from: Data($0.utf8)) })
            }
        }
    }

    public func steps(runID: Int64) throws -> [StepRecordRow] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM steps WHERE run_id = ? ORDER BY step_index", arguments: [runID])
                .map {
                    row in
                    StepRecordRow(
                        index: row["step_index"], cycle: row["cycle"], kind: row["kind"], current_A: row["current_A"],
                        currentDensity_mA_cm2: row["current_density_mA_cm2"], startTime_s: row["start_time_s"],
                        endTime_s: row["end_time_s"], endReason: row["end_reason"], charge_C: row["charge_C"])
                }
        }
    }

    /// Every impedance point of a run, by step and then in the order swept.
    public func spectra(runID: Int64) throws -> [StoredImpedancePoint] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM impedance WHERE run_id = ? ORDER BY step_index, point", arguments: [runID]
            ).map { row in
                StoredImpedancePoint(
                    stepIndex: row["step_index"], cycle: row["cycle"],
                    point: ImpedancePoint(
                        time_s: row["time_s"], frequency_Hz: row["frequency_Hz"], real_Ohm: row["z_real_Ohm"],
                        imaginary_Ohm: row["z_imag_Ohm"]))
            }
        }
    }

    public func instruments(runID: Int64) throws -> [InstrumentIdentity] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM instruments WHERE run_id = ?", arguments: [runID]).map { row in
                InstrumentIdentity(
                    role: row["role"], model: row["model"], firmware: row["firmware"],
                    serialNumber: row["serial_number"],
                    port: row["port"])
            }
        }
    }

    public func groundTruth(runID: Int64) throws -> [GroundTruthEvent] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ground_truth WHERE run_id = ? ORDER BY time_s", arguments: [runID])
                .map { row in
                    GroundTruthEvent(
                        kind: GroundTruthEvent.Kind(rawValue: row["kind"]) ?? .hardShort, time_s: row["time_s"],
                        electrode: row["electrode"], currentDensity_mA_cm2: row["current_density_mA_cm2"])
                }
        }
    }

    private static func storedRun(_ row: Row) throws -> StoredRun {
        let createdText: String = row["created_at"]
        let endedText: String? = row["ended_at"]
        return StoredRun(
            id: row["id"], state: RunState(rawValue: row["state"]) ?? .faulted, protocolName: row["protocol_name"],
            protocolFile: row["protocol_file"], protocolText: row["protocol_text"],
            protocolSHA256: row["protocol_sha256"], rigID: row["rig_id"], cellLabel: row["cell_label"],
            area_cm2: row["area_cm2"], threeElectrode: row["three_electrode"], softwareVersion: row["software_version"],
            createdAt: parseTimestamp(createdText) ?? Date(timeIntervalSince1970: 0),
            endedAt: endedText.flatMap(parseTimestamp), endReason: row["end_reason"], ccd_mA_cm2: row["ccd_mA_cm2"],
            plannedSteps: row["planned_steps"], reactionTime_s: row["reaction_time_s"])
    }
}

/// An impedance point as stored in the `impedance` table, with the step that measured it.
public struct StoredImpedancePoint: Sendable, Hashable {
    public var stepIndex: Int
    public var cycle: Int
    public var point: ImpedancePoint

    public init(stepIndex: Int, cycle: Int, point: ImpedancePoint) {
        self.stepIndex = stepIndex
        self.cycle = cycle
        self.point = point
    }
}

/// A step as stored in the `steps` table.
public struct StepRecordRow: Sendable, Hashable, Codable {
    public var index: Int
    public var cycle: Int
    public var kind: String
    public var current_A: Double
    public var currentDensity_mA_cm2: Double
    public var startTime_s: Double
    public var endTime_s: Double?
    public var endReason: String?
    public var charge_C: Double

    public init(
        index: Int, cycle: Int, kind: String, current_A: Double, currentDensity_mA_cm2: Double, startTime_s: Double,
        endTime_s: Double?, endReason: String?, charge_C: Double
    ) {
        self.index = index
        self.cycle = cycle
        self.kind = kind
        self.current_A = current_A
        self.currentDensity_mA_cm2 = currentDensity_mA_cm2
        self.startTime_s = startTime_s
        self.endTime_s = endTime_s
        self.endReason = endReason
        self.charge_C = charge_C
    }
}

private func json<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func timestamp(_ date: Date) -> String {
    date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
}

func parseTimestamp(_ text: String) -> Date? {
    try? Date(
        text,
        strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
}

/// The protocol a stored run executed and the cell it ran on, as recorded when it started.
public struct RecordedProtocol: Sendable, Hashable {
    public var text: String
    public var file: String
    public var parameters: [String: String]
    public var cell: CellDescription
}
