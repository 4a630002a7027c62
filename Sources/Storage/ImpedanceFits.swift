import Domain
import Foundation
import GRDB

/// An equivalent-circuit fit as stored in the `impedance_fits` table, with the step it fitted.
public struct StoredImpedanceFit: Sendable, Hashable {
    public var stepIndex: Int
    public var fittedAt: Date
    public var softwareVersion: String
    public var result: ImpedanceFitResult

    public init(stepIndex: Int, fittedAt: Date, softwareVersion: String, result: ImpedanceFitResult) {
        self.stepIndex = stepIndex
        self.fittedAt = fittedAt
        self.softwareVersion = softwareVersion
        self.result = result
    }
}

extension RunStore {
    /// Migration "v5: impedance fits": one row per run, impedance step and circuit. The numbers a lab queries
    /// (interface resistance per interface, reduced chi-square, lin-KK verdict) are columns; the whole result,
    /// parameters with their errors included, is JSON in `result`.
    static func createImpedanceFitsTable(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE impedance_fits (
                    run_id INTEGER NOT NULL REFERENCES runs(id),
                    step_index INTEGER NOT NULL,
                    circuit TEXT NOT NULL,
                    weighting TEXT NOT NULL,
                    interface_element TEXT,
                    interface_Ohm_cm2 REAL,
                    interface_error_Ohm_cm2 REAL,
                    reduced_chi_square REAL NOT NULL,
                    kk_residual_rms REAL NOT NULL,
                    kk_consistent INTEGER NOT NULL,
                    fitted_at TEXT NOT NULL,
                    software_version TEXT NOT NULL,
                    result TEXT NOT NULL,
                    PRIMARY KEY (run_id, step_index, circuit)
                ) WITHOUT ROWID
                """)
    }

    /// Stores a fit of one impedance step's spectrum, replacing an earlier fit of the same step and circuit.
    public func saveImpedanceFit(
        _ fit: ImpedanceFitResult, runID: Int64, stepIndex: Int, softwareVersion: String = CellRigVersion.current
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let json = String(decoding: try encoder.encode(fit), as: UTF8.self)
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO impedance_fits (run_id, step_index, circuit, weighting,
                            interface_element, interface_Ohm_cm2, interface_error_Ohm_cm2, reduced_chi_square,
                            kk_residual_rms, kk_consistent, fitted_at, software_version, result)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        runID, stepIndex, fit.circuit.description, fit.weighting.rawValue, fit.interface?.element,
                        fit.interface?.perInterface_Ohm_cm2, fit.interface?.perInterfaceStandardError_Ohm_cm2,
                        fit.reducedChiSquare, fit.kramersKronig.residualRMS, fit.kramersKronig.isConsistent,
                        timestamp(Date()), softwareVersion, json,
                    ])
            }
        } catch {
            throw StorageError(
                path: path, message: "storing the fit of run \(runID) step \(stepIndex) failed: \(error)")
        }
    }

    /// The stored fits of a run, by step and then circuit.
    public func impedanceFits(runID: Int64) throws -> [StoredImpedanceFit] {
        let rows = try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM impedance_fits WHERE run_id = ? ORDER BY step_index, circuit",
                arguments: [runID])
        }
        return try rows.map { row in
            let text: String = row["result"]
            let fittedText: String = row["fitted_at"]
            return StoredImpedanceFit(
                stepIndex: row["step_index"], fittedAt: parseTimestamp(fittedText) ?? Date(timeIntervalSince1970: 0),
                softwareVersion: row["software_version"],
                result: try JSONDecoder().decode(ImpedanceFitResult.self, from: Data(text.utf8)))
        }
    }
}
