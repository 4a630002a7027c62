import Domain
import Simulation
import Testing

@Suite("PhysicsCell presets, overrides and impedance")
struct PhysicsCellParameterAndImpedanceTests {
    @Test("every preset builds a cell that gives finite readings", arguments: PhysicsCellParameters.presetNames)
    func presetsRun(name: String) throws {
        let parameters = try PhysicsCellParameters.preset(named: name)
        var runner = HalfCycleRunner(parameters)
        let density = parameters.voidingCurrentDensity_mA_cm2 / 2
        let readings = runner.halfCycle(density_mA_cm2: -density, capacity_mAh_cm2: 0.05, recording: true).readings
        #expect(!readings.isEmpty)
        #expect(readings.allSatisfy { $0.voltage_V.isFinite && $0.voltage_V < 0 })
        #expect(runner.cell.groundTruth.isEmpty)
    }

    @Test("an unknown preset or parameter name is refused with an error naming it and the allowed names")
    func unknownNamesAreRefused() throws {
        var parameters = kPreset()
        do {
            try parameters.override("stackPresure_MPa", with: 3)
            Issue.record("a misspelt parameter was accepted")
        } catch {
            #expect(error.description.contains("stackPresure_MPa"))
            #expect(error.description.contains("stackPressure_MPa"))
        }
        do {
            _ = try PhysicsCellParameters.preset(named: "li-nasicon")
            Issue.record("an unknown preset was accepted")
        } catch {
            #expect(error.description.contains("li-nasicon"))
            #expect(error.description.contains("k-beta-alumina"))
        }
        #expect(throws: PhysicsParameterError.self) {
            try PhysicsCell(preset: "k-beta-alumina", overrides: ["area": 1])
        }
    }

    @Test("overrides change exactly the named value and check its range")
    func overridesSetValues() throws {
        var parameters = kPreset()
        try parameters.override("stackPressure_MPa", with: 7)
        try parameters.override("threeElectrode", with: 1)
        try parameters.override("seed", with: 99)
        try parameters.override("metal", with: "Na")
        #expect(parameters.stackPressure_MPa == 7)
        #expect(parameters.isThreeElectrode)
        #expect(parameters.seed == 99)
        #expect(parameters.metal == .na)
        #expect(try parameters.value(of: "stackPressure_MPa") == 7)
        #expect(parameters.dendriteCCD_mA_cm2 == kPreset().dendriteCCD_mA_cm2)
        #expect(throws: PhysicsParameterError.self) { try parameters.override("electrodeArea_cm2", with: -1) }
        #expect(throws: PhysicsParameterError.self) { try parameters.override("threeElectrode", with: 0.5) }
        #expect(throws: PhysicsParameterError.self) { try parameters.override("seed", with: 1.5) }
        #expect(throws: PhysicsParameterError.self) { try parameters.override("metal", with: "Cs") }
        #expect(throws: PhysicsParameterError.self) { try parameters.override("voltageNoise_V", with: "loud") }

        let cell = try PhysicsCell(preset: "li-lpscl", overrides: ["dendriteCCD_mA_cm2": 2.5, "seed": 7])
        #expect(cell.parameters.dendriteCCD_mA_cm2 == 2.5)
        #expect(cell.parameters.seed == 7)
        #expect(cell.parameters.metal == .li)
    }

    @Test("the catalogue lists every parameter once with a unit and summary, and each round-trips")
    func catalogueRoundTrips() throws {
        let catalogue = PhysicsCellParameters.catalogue
        #expect(Set(catalogue.map(\.name)).count == catalogue.count)
        #expect(catalogue.count > 50)
        var parameters = kPreset()
        for entry in catalogue {
            #expect(!entry.unit.isEmpty && !entry.summary.isEmpty)
            let current = try parameters.value(of: entry.name)
            #expect(entry.allowedRange.contains(current), "preset value of \(entry.name) out of its range")
            try parameters.override(entry.name, with: current)
        }
        #expect(parameters == kPreset())
    }

    @Test("bulk resistance comes from conductivity and thickness unless given directly")
    func bulkResistanceDerivation() throws {
        var parameters = kPreset()
        try parameters.override("electrolyteConductivity_mS_cm", with: 2)
        try parameters.override("electrolyteThickness_um", with: 1000)
        #expect(abs(parameters.effectiveBulkResistance_Ohm_cm2 - 50) < 1e-9)
        try parameters.override("bulkResistance_Ohm_cm2", with: 80)
        #expect(parameters.effectiveBulkResistance_Ohm_cm2 == 80)
    }

    @Test("impedance tends to the bulk resistance at high and to the sum of resistances at low frequency")
    func impedanceLimits() throws {
        let cell = PhysicsCell(parameters: kPreset().withoutNoise)
        let state = cell.state
        let total =
            state.bulkResistance_Ohm + state.workingInterfaceResistance_Ohm + state.counterInterfaceResistance_Ohm
        let spectrum = cell.impedance(atFrequencies: [1e6, 1e-3])
        let high = spectrum[0]
        let low = spectrum[1]
        #expect(abs(high.real - state.bulkResistance_Ohm) < 0.05 * state.bulkResistance_Ohm)
        #expect(abs(low.real - total) < 0.01 * total)
        #expect(abs(low.imaginary) < 0.01 * total)
        #expect(high.imaginary < 0 && low.imaginary < 0)
        // The two semicircles: the phase is most negative between the limits.
        let middle = cell.impedance(atFrequencies: [1000])[0]
        #expect(middle.real > high.real && middle.real < low.real)
    }

    @Test("the interfacial part of the impedance grows when the contact shrinks; a short collapses it")
    func impedanceFollowsContactAndShort() throws {
        var runner = HalfCycleRunner(kPreset().withoutNoise)
        let frequencies = [1e6, 1e-3]
        let fresh = runner.cell.impedance(atFrequencies: frequencies)
        runner.halfCycle(density_mA_cm2: 3, capacity_mAh_cm2: 0.3)
        let contact = runner.cell.state.workingContactFraction
        let voided = runner.cell.impedance(atFrequencies: frequencies)
        let freshInterface = fresh[1].real - fresh[0].real
        let voidedInterface = voided[1].real - voided[0].real
        #expect(contact < 0.8)
        #expect(voidedInterface > 1.2 * freshInterface)
        // One of the two interfaces went from R to about R / contact.
        let expected = freshInterface / 2 * (1 + 1 / contact)
        #expect(abs(voidedInterface - expected) < 0.05 * expected)

        var shorted = HalfCycleRunner(kPreset().withoutNoise)
        var cycle = 1
        while shorted.events(.hardShort).isEmpty, cycle < 100 {
            let density = stepCurrentDensity(cycle: cycle) * 3
            shorted.halfCycle(density_mA_cm2: -density, capacity_mAh_cm2: 0.1) { cell in
                cell.groundTruth.contains { $0.kind == .hardShort }
            }
            cycle += 1
        }
        let afterShort = shorted.cell.impedance(atFrequencies: [1e-3])[0]
        let bulk_Ohm = shorted.cell.state.bulkResistance_Ohm
        #expect(!shorted.events(.hardShort).isEmpty)
        #expect(afterShort.real < bulk_Ohm)
    }
}
