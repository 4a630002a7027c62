import Domain
import Foundation
import GRDB

extension RunStore {
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
            return try decodeJSON(StepPlan.self, from: text)
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
        return try RecordedProtocol(
            text: row["protocol_text"], file: row["protocol_file"], parametersJSON: row["protocol_parameters"],
            cellJSON: row["cell"])
    }

    /// The rig description recorded in a run's start record (instruments, ports, pressure calibration).
    public func rig(runID: Int64) throws -> RigDescription? {
        let text = try pool.read { db in
            try String.fetchOne(db, sql: "SELECT rig FROM runs WHERE id = ?", arguments: [runID])
        }
        return try text.map { try decodeJSON(RigDescription.self, from: $0) }
    }

    /// How many of a run's samples carry each quality flag, by the flag's name; flags no sample has are left out.
    public func flaggedSampleCounts(runID: Int64) throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            let flags = try Int.fetchAll(
                db, sql: "SELECT flags FROM samples WHERE run_id = ? AND flags != 0", arguments: [runID])
            for raw in flags {
                for name in SampleFlags(rawValue: raw).names { counts[name, default: 0] += 1 }
            }
            return counts
        }
    }

    /// SQLite's own check of the file: `["ok"]` for a sound database, else what it found.
    public func integrityCheck() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// A run's inputs from outside the samples (pauses, resumes, restarted steps), in order.
    public func inputs(runID: Int64) throws -> [RunInput] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run_inputs WHERE run_id = ? ORDER BY seq", arguments: [runID])
                .map { row in
                    let verdictText: String? = row["verdict"]
                    return RunInput(
                        kind: RunInput.Kind(rawValue: row["kind"]) ?? .suspend, afterSamples: row["after_samples"],
                        reason: row["reason"], verdict: try verdictText.map { try decodeJSON(Verdict.self, from: $0) })
                }
        }
    }

    /// How many events a run has stored (the next event's sequence number).
    public func eventCount(runID: Int64) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE run_id = ?", arguments: [runID]) ?? 0
        }
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
                let sample = RecordedSample.stored(
                    seq: row["seq"], time_s: row["time_s"], current_A: row["current_A"], voltage_V: row["voltage_V"],
                    voltageWERE_V: row["voltage_we_re_V"], pressure_MPa: row["pressure_MPa"],
                    temperature_C: row["temperature_C"], cycle: row["cycle"], stepIndex: row["step_index"],
                    flags: row["flags"])
                try body(sample)
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
                    verdict: try verdictText.map { try decodeJSON(Verdict.self, from: $0) })
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
            plannedSteps: row["planned_steps"], reactionTime_s: row["reaction_time_s"],
            cellOffConfirmed_s: row["cell_off_confirmed_s"], discardedReadings: row["discarded_readings"],
            lastWrittenAt: (row["last_written_at"] as String?).flatMap(parseTimestamp))
    }
}
