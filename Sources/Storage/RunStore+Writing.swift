import Domain
import Foundation
import GRDB

/// What a batch write stored, and the rows it could not store with the reason for each.
public struct BatchWriteOutcome: Sendable, Hashable {
    /// A row SQLite refused; the rest of its batch is stored.
    public struct RejectedRow: Sendable, Hashable, CustomStringConvertible {
        public var table: String
        /// The sample's or event's sequence number, or the step's index.
        public var key: Int
        public var reason: String

        public var description: String { "\(table) row \(key): \(reason)" }
    }

    public var storedSamples: Int
    public var rejected: [RejectedRow]
}

extension RunStore {
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

    /// Stores samples, steps and events of one run in one transaction; throws if any row is refused.
    public func append(
        runID: Int64, samples: [RecordedSample], steps: [StepRecordRow], events: [(seq: Int, event: RunEvent)]
    ) throws {
        let batch = RunRecordBatch(samples: samples, steps: steps, events: events)
        guard !batch.isEmpty else { return }
        try write { db in _ = try Self.insert(batch, runID: runID, db: db, keepingGoing: false) }
    }

    /// Stores a batch on the database's writer queue, in one transaction. When SQLite refuses a row, the batch is
    /// written again row by row, so every other row is stored; the outcome lists the refused rows and why. Throws
    /// only when nothing could be written (a full disk, a read-only file), naming the cause.
    public func append(_ batch: RunRecordBatch, runID: Int64) async throws -> BatchWriteOutcome {
        guard !batch.isEmpty else { return BatchWriteOutcome(storedSamples: 0, rejected: []) }
        do {
            try await writeInBackground { db in _ = try Self.insert(batch, runID: runID, db: db, keepingGoing: false) }
            return BatchWriteOutcome(storedSamples: batch.samples.count, rejected: [])
        } catch let error as StorageError where error.cause == .constraint || error.cause == .other {
            return try await writeInBackground { db in
                let rejected = try Self.insert(batch, runID: runID, db: db, keepingGoing: true)
                let refusedSamples = rejected.filter { $0.table == "samples" }.count
                return BatchWriteOutcome(storedSamples: batch.samples.count - refusedSamples, rejected: rejected)
            }
        }
    }

    /// Inserts a batch. Unless `keepingGoing`, the first refused row fails the whole transaction; otherwise each
    /// refused row is returned with its reason and the others are inserted.
    private static func insert(_ batch: RunRecordBatch, runID: Int64, db: Database, keepingGoing: Bool) throws
        -> [BatchWriteOutcome.RejectedRow]
    {
        var rejected: [BatchWriteOutcome.RejectedRow] = []
        /// Inserts one row. The fast path reuses one cached statement; row by row, each row gets a statement of its
        /// own, since SQLite reports a failed step again when its statement is next reset.
        func insertRow(
            _ table: String, _ key: Int, sql: String, cached: Statement?, _ arguments: StatementArguments
        ) throws {
            if let cached { return try cached.execute(arguments: arguments) }
            do {
                try db.makeStatement(sql: sql).execute(arguments: arguments)
            } catch {
                rejected.append(.init(table: table, key: key, reason: "\(error)"))
            }
        }
        if keepingGoing {
            for recorded in batch.samples {
                let sample = recorded.sample
                try insertRow(
                    "samples", recorded.seq, sql: SampleRowBinder.sql, cached: nil,
                    [
                        runID, recorded.seq, sample.time_s, storable(sample.current_A), storable(sample.voltage_V),
                        storable(sample.voltageWERE_V), storable(sample.pressure_MPa), storable(sample.temperature_C),
                        recorded.cycle, recorded.stepIndex, sample.flags.rawValue,
                    ])
            }
        } else {
            try SampleRowBinder.insert(batch.samples, runID: runID, db: db)
        }
        let stepSQL = """
            INSERT OR REPLACE INTO steps (run_id, step_index, cycle, kind, current_A, current_density_mA_cm2,
                start_time_s, end_time_s, end_reason, charge_C) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        let stepCached = keepingGoing ? nil : try db.cachedStatement(sql: stepSQL)
        for step in batch.steps {
            try insertRow(
                "steps", step.index, sql: stepSQL, cached: stepCached,
                [
                    runID, step.index, step.cycle, step.kind, step.current_A, step.currentDensity_mA_cm2,
                    step.startTime_s, step.endTime_s, step.endReason, step.charge_C,
                ])
        }
        let eventSQL = """
            INSERT INTO events (run_id, seq, time_s, recorded_at, kind, step_index, message, verdict)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """
        let now = timestamp(Date())
        // When the run was last written: after a crash, the time since is how long the run was away.
        try db.execute(sql: "UPDATE runs SET last_written_at = ? WHERE id = ?", arguments: [now, runID])
        let eventCached = keepingGoing ? nil : try db.cachedStatement(sql: eventSQL)
        for (seq, event) in batch.events {
            try insertRow(
                "events", seq, sql: eventSQL, cached: eventCached,
                [
                    runID, seq, event.time_s, now, event.kind.rawValue, event.stepIndex, event.message,
                    try event.verdict.map { try json($0) },
                ])
        }
        let inputSQL = """
            INSERT INTO run_inputs (run_id, seq, after_samples, kind, reason, verdict) VALUES (?, ?, ?, ?, ?, ?)
            """
        let inputCached = keepingGoing ? nil : try db.cachedStatement(sql: inputSQL)
        for (seq, input) in batch.inputs {
            try insertRow(
                "run_inputs", seq, sql: inputSQL, cached: inputCached,
                [
                    runID, seq, input.afterSamples, input.kind.rawValue, input.reason,
                    try input.verdict.map { try json($0) },
                ])
        }
        return rejected
    }

    /// Records how a run ended, with the count of readings its instruments sent that could not be used.
    public func finishRun(_ runID: Int64, outcome: RunOutcome, discardedReadings: Int = 0) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET state = ?, ended_at = ?, end_reason = ?, ccd_mA_cm2 = ?, outcome = ?,
                        reaction_time_s = ?, cell_off_confirmed_s = ?, discarded_readings = ?, resume_on_start = 0
                    WHERE id = ?
                    """,
                arguments: [
                    outcome.state.rawValue, timestamp(Date()), outcome.reason, outcome.ccd_mA_cm2, try json(outcome),
                    outcome.reactionTime_s, outcome.cellOffConfirmedTime_s, discardedReadings, runID,
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

    /// Makes an interrupted run active again (it is being resumed): state `running`, no end time or reason, no mark
    /// for the next start. `restartEvent` (the event saying why the run continues) is stored in the same
    /// transaction, so a run that is active again always has the restart on record, however soon the daemon dies.
    public func reopenRun(_ runID: Int64, restartEvent: (seq: Int, event: RunEvent)? = nil) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET state = 'running', ended_at = NULL, end_reason = NULL, resume_on_start = 0
                    WHERE id = ?
                    """,
                arguments: [runID])
            if let restartEvent {
                _ = try Self.insert(RunRecordBatch(events: [restartEvent]), runID: runID, db: db, keepingGoing: false)
            }
        }
    }

    /// Marks a run interrupted, with the reason (a restart that could not resume it); the next start leaves it be.
    public func markInterrupted(_ runID: Int64, reason: String) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET state = 'interrupted', ended_at = ?, end_reason = ?, resume_on_start = 0
                    WHERE id = ?
                    """,
                arguments: [timestamp(Date()), reason, runID])
        }
    }

    /// Marks runs left `starting`/`running`/`paused` by a daemon that died as `interrupted`; returns the runs this
    /// start is to resume (as their protocols' `on_restart` says).
    ///
    /// Those are the runs just marked, and the runs an earlier start or a shutdown marked for resuming
    /// (``markForResumeOnStart(_:)``). A run keeps its mark (`resume_on_start`) until it is active again
    /// (``reopenRun(_:restartEvent:)``) or is left interrupted on purpose (``markInterrupted(_:reason:)``), so a daemon
    /// that dies while it resumes a run (while it reads its samples back, say) leaves it to the next start. The mark
    /// counts the starts that took the run on: after ``resumeAttempts`` starts in a row that died before the run
    /// was going again, the run stays interrupted with that reason, so a run that brings the daemon down cannot keep
    /// it from starting.
    public func interruptAbandonedRuns(reason: String) throws -> [Int64] {
        try write { db in
            let now = timestamp(Date())
            try db.execute(
                sql: """
                    UPDATE runs SET state = 'interrupted', ended_at = ?, end_reason = ?, resume_on_start = 1
                    WHERE state IN ('starting', 'running', 'paused')
                    """,
                arguments: [now, reason])
            let marked = try Row.fetchAll(
                db, sql: "SELECT id, resume_on_start FROM runs WHERE resume_on_start > 0 AND state = 'interrupted'")
            var resumed: [Int64] = []
            for row in marked {
                let id: Int64 = row["id"]
                let starts: Int = row["resume_on_start"]
                if starts > Self.resumeAttempts {
                    try db.execute(
                        sql: "UPDATE runs SET resume_on_start = 0, ended_at = ?, end_reason = ? WHERE id = ?",
                        arguments: [
                            now,
                            "\(reason); not resumed: the daemon stopped \(Self.resumeAttempts) times in a row while "
                                + "resuming it",
                            id,
                        ])
                } else {
                    try db.execute(
                        sql: "UPDATE runs SET resume_on_start = ? WHERE id = ?", arguments: [starts + 1, id])
                    resumed.append(id)
                }
            }
            // A finished run loses any mark it still had (it has nothing to resume).
            try db.execute(
                sql: "UPDATE runs SET resume_on_start = 0 WHERE resume_on_start != 0 AND state != 'interrupted'")
            return resumed.sorted()
        }
    }

    /// How many daemon starts in a row may take on an interrupted run and die before it runs again.
    public static let resumeAttempts = 3

    /// Marks runs a graceful shutdown interrupted, so the next daemon resumes them as their protocols say.
    public func markForResumeOnStart(_ runIDs: [Int64]) throws {
        guard !runIDs.isEmpty else { return }
        try write { db in
            for id in runIDs {
                try db.execute(
                    sql: "UPDATE runs SET resume_on_start = 1 WHERE id = ? AND state = 'interrupted'", arguments: [id])
            }
        }
    }
}

/// The value to store: NULL for a non-finite reading (its sample carries ``SampleFlags/nonFinite``).
private func storable(_ value: Double?) -> Double? {
    guard let value, value.isFinite else { return nil }
    return value
}
