import Domain
import Foundation
import Storage
import TestSupport
import Testing

@Suite("Stored impedance fits")
struct ImpedanceFitStoreTests {
    func fit(circuit: String, interface: Double) throws -> ImpedanceFitResult {
        let check = KramersKronigCheck(
            elementCount: 12, mu: 0.8, residualRMS: 0.004, residualMaximum: 0.01, threshold: 0.02,
            systematicThreshold: 0.005, autocorrelation: 0.1, realResiduals: [0.001, -0.002],
            imaginaryResiduals: [0.0005, 0.001])
        return ImpedanceFitResult(
            circuit: try EquivalentCircuit(parsing: circuit), weighting: .modulus,
            parameters: [
                FittedParameter(
                    name: "R1", element: "R1", unit: "Ohm", value: interface, standardError: 1.5,
                    areaSpecificValue: interface * 0.196, areaSpecificStandardError: 1.5 * 0.196,
                    areaSpecificUnit: "Ohm cm2")
            ],
            pointCount: 61, degreesOfFreedom: 118, weightedSumOfSquares: 0.0118, reducedChiSquare: 1e-4,
            converged: true, iterations: 14, area_cm2: 0.196,
            arcs: [
                FittedArc(
                    resistor: "R1", capacitiveElement: "CPE1", resistance_Ohm: interface, effectiveCapacitance_F: 1e-7,
                    characteristicFrequency_Hz: 7600)
            ],
            interface: InterfacialResistance(
                element: "R1", resistance_Ohm: interface, standardError_Ohm: 1.5, interfacesInSeries: 2,
                area_cm2: 0.196),
            kramersKronig: check, warnings: ["a warning"])
    }

    @Test("a fit is stored with the step and read back whole; a new fit of the same circuit replaces it")
    func roundTrip() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("db.sqlite").path
        let store = try RunStore(path: path)
        #expect(try store.createRun(RunStoreTests().makeStart(), threeElectrode: false) == 1)
        let first = try fit(circuit: "R0-p(R1,CPE1)", interface: 214)
        try store.saveImpedanceFit(first, runID: 1, stepIndex: 1)
        try store.saveImpedanceFit(try fit(circuit: "p(R1,CPE1)", interface: 200), runID: 1, stepIndex: 1)
        try store.saveImpedanceFit(try fit(circuit: "p(R1,CPE1)", interface: 300), runID: 1, stepIndex: 4)
        #expect(throws: StorageError.self) { try store.saveImpedanceFit(first, runID: 99, stepIndex: 1) }
        let replaced = try fit(circuit: "R0-p(R1,CPE1)", interface: 215)
        try store.saveImpedanceFit(replaced, runID: 1, stepIndex: 1, softwareVersion: "9.9")

        let reader = try RunStore(readOnlyPath: path)
        let stored = try reader.impedanceFits(runID: 1)
        #expect(stored.map(\.stepIndex) == [1, 1, 4])
        #expect(stored.map(\.result.circuit.description) == ["R0-p(R1,CPE1)", "p(R1,CPE1)", "p(R1,CPE1)"])
        #expect(stored[0].result == replaced)
        #expect(stored[0].softwareVersion == "9.9")
        #expect(abs(stored[0].result.interface!.perInterface_Ohm_cm2! - 215 * 0.196 / 2) < 1e-12)
        #expect(abs(stored[0].fittedAt.timeIntervalSinceNow) < 3600)
        #expect(try reader.impedanceFits(runID: 2).isEmpty)
    }
}
