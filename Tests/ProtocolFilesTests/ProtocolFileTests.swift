import Domain
import Foundation
import ProtocolFiles
import TestSupport
import Testing

@Suite("Protocol files")
struct ProtocolFileTests {
    static let shipped = [
        "protocols/ccd-step-symmetric.yaml", "protocols/ccd-plating-step-3e.yaml", "protocols/stripping-3e.yaml",
        "protocols/microelectrode-staircase.yaml", "protocols/eis-potentiostatic.yaml",
        "protocols/conditioned-ccd-3e.yaml",
        "protocols/cv-microelectrode-10mVs.yaml", "protocols/cv-microelectrode-0.2mVs.yaml",
        "protocols/rate-capability-microelectrode.yaml",
    ]

    @Test("every shipped protocol parses and expands", arguments: shipped)
    func shippedProtocolsParse(path: String) throws {
        let testProtocol = try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path)
        #expect(testProtocol.schema == 1)
        let plan = try StepPlan(expanding: testProtocol, area_cm2: 0.196)
        #expect(!plan.steps.isEmpty)
    }

    @Test("protocols/ holds exactly the shipped files, so a new one gets a test")
    func directoryListing() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: TestSupport.repositoryFile("protocols").path)
        #expect(Set(names.map { "protocols/\($0)" }) == Set(Self.shipped))
    }

    @Test("the seed-000 CCD file has the seed's numbers")
    func seedNumbers() throws {
        let path = "protocols/ccd-step-symmetric.yaml"
        let plan = try StepPlan(
            expanding: try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path), area_cm2: 0.196)
        let plating = plan.steps.filter { $0.kind == .plate }
        #expect(plating.prefix(4).map(\.currentDensity_mA_cm2) == [0.05, 0.1, 0.2, 0.3])
        #expect(plating.contains { $0.currentDensity_mA_cm2 == 4.8 })
        #expect(plan.steps.allSatisfy { $0.capacity_mAh_cm2 == 0.5 })
        #expect(
            plan.steps.prefix(6).map { $0.expectedDuration_s! / 3600 }.map { ($0 * 1000).rounded() / 1000 } == [
                10, 10, 5, 5, 2.5, 2.5,
            ])
    }

    @Test("the seed-004 plating-step file plates 0.5 higher each cycle and strips at 0.2")
    func platingStep() throws {
        let path = "protocols/ccd-plating-step-3e.yaml"
        let testProtocol = try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path)
        #expect(testProtocol.threeElectrode)
        let plan = try StepPlan(expanding: testProtocol, area_cm2: 0.0314)
        #expect(plan.steps.filter { $0.kind == .plate }.prefix(3).map(\.currentDensity_mA_cm2) == [0.5, 1, 1.5])
        #expect(plan.steps.filter { $0.kind == .strip }.allSatisfy { $0.currentDensity_mA_cm2 == 0.2 })
        #expect(plan.steps.allSatisfy { abs($0.capacity_mAh_cm2! - 0.2) < 1e-12 })
    }

    @Test("the stripping test takes its current density at start")
    func strippingParameter() throws {
        let path = "protocols/stripping-3e.yaml"
        let text = try TestSupport.readRepositoryFile(path)
        let standard = try StepPlan(expanding: try ProtocolFile.parse(text, file: path), area_cm2: 0.196)
        #expect(standard.steps.count == 50)
        #expect(standard.steps[0].kind == .plate)
        #expect(standard.steps.allSatisfy { $0.currentDensity_mA_cm2 == 1 })
        let atThree = try ProtocolFile.parse(text, file: path, parameters: ["current_density": "3 mA/cm2"])
        #expect(atThree.parameters["current_density"] == "3 mA/cm2")
        let plan = try StepPlan(expanding: atThree, area_cm2: 0.196)
        #expect(plan.steps.allSatisfy { $0.currentDensity_mA_cm2 == 3 })
    }

    @Test("an unknown parameter is refused with the known ones listed")
    func unknownParameter() throws {
        let path = "protocols/stripping-3e.yaml"
        let text = try TestSupport.readRepositoryFile(path)
        let error = try #require(throws: FileError.self) {
            try ProtocolFile.parse(text, file: path, parameters: ["curent_density": "3 mA/cm2"])
        }
        #expect(error.description.contains("curent_density"))
        #expect(error.allowed == "current_density")
    }

    @Test("the seed-000 EIS file: 1 MHz to 1 Hz, 10 points per decade, 10 mV RMS, potentiostatic")
    func seedImpedance() throws {
        let path = "protocols/eis-potentiostatic.yaml"
        let plan = try StepPlan(
            expanding: try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path), area_cm2: 0.196)
        let settings = try #require(plan.steps[1].impedance)
        #expect(plan.steps[1].kind == .impedance && plan.steps[1].current_A == 0)
        #expect(settings.control == .potentiostatic)
        #expect(settings.amplitude == 0.01)
        let frequencies = settings.frequencies_Hz
        #expect(frequencies.count == 61)
        #expect(frequencies.first == 1e6)
        #expect(abs(frequencies[10] - 1e5) < 1e-6, "one decade after ten points")
        #expect(abs(frequencies.last! - 1) < 1e-12)
        let lowered = try ProtocolFile.parse(
            try TestSupport.readRepositoryFile(path), file: path, parameters: ["highest_frequency": "200 kHz"])
        let steps = try StepPlan(expanding: lowered, area_cm2: 0.196).steps
        #expect(steps[1].impedance?.startFrequency_Hz == 2e5)
    }

    @Test("a galvanostatic spectrum takes its amplitude as a current density and converts it with the area")
    func galvanostaticImpedance() throws {
        let text = """
            schema: 1
            name: geis
            steps:
              - impedance: {control: galvanostatic, from: 100 kHz, to: 100 mHz, points_per_decade: 5, amplitude: 0.05 mA/cm2}
            """
        let plan = try StepPlan(expanding: try ProtocolFile.parse(text, file: "geis.yaml"), area_cm2: 0.2)
        let settings = try #require(plan.steps.first?.impedance)
        #expect(settings.control == .galvanostatic)
        #expect(abs(settings.amplitude - 1e-5) < 1e-18, "0.05 mA/cm2 on 0.2 cm2 is 10 uA")
        #expect(settings.pointCount == 31)
    }

    @Test("the staircase runs from -2 nA to -2.2 uA in 10 s steps")
    func staircase() throws {
        let path = "protocols/microelectrode-staircase.yaml"
        let plan = try StepPlan(
            expanding: try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path), area_cm2: 8e-7)
        let stairs = plan.steps.dropFirst()
        #expect(stairs.first?.current_A == -2e-9)
        #expect(abs(stairs.last!.current_A - -2.2e-6) < 1e-15)
        #expect(stairs.allSatisfy { $0.durationLimit_s == 10 && $0.voltageLimit_V == 1 })
    }
}

@Suite("Errors in protocol files name file, line, column, key, value and what is allowed")
struct ProtocolFileErrorTests {
    static let valid = """
        schema: 1
        name: broken
        steps:
          - loop:
              cycles: 3
              current: 0.5 mA/cm2
              steps:
                - plate:
                    capacity: 0.5 mAh/cm2
        """

    func error(replacing old: String, with new: String) throws -> FileError {
        let text = Self.valid.replacingOccurrences(of: old, with: new)
        #expect(text != Self.valid, "the replacement must change the text")
        return try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "broken.yaml") }
    }

    @Test("a current density without its unit")
    func missingUnit() throws {
        let error = try error(replacing: "current: 0.5 mA/cm2", with: "current: 0.5")
        #expect(error.file == "broken.yaml")
        #expect(error.line == 6)
        #expect(error.column == 16)
        #expect(error.key == "steps[0].loop.current")
        #expect(error.value == "0.5")
        #expect(error.allowed?.contains("mA/cm2") == true)
        #expect(error.description.hasPrefix("broken.yaml:6:16: steps[0].loop.current: "))
    }

    @Test("a misspelt key")
    func unknownKey() throws {
        let error = try error(replacing: "capacity:", with: "capacty:")
        #expect(error.line == 9)
        #expect(error.key == "steps[0].loop.steps[0].plate.capacty")
        #expect(error.allowed?.contains("capacity") == true)
    }

    @Test("a value out of range")
    func outOfRange() throws {
        let error = try error(replacing: "cycles: 3", with: "cycles: 0")
        #expect(error.line == 5)
        #expect(error.key == "steps[0].loop.cycles")
        #expect(error.allowed == "1 to 100000")
    }

    @Test("an impedance step with a current amplitude under potentiostatic control")
    func impedanceAmplitudeUnit() throws {
        let text = """
            schema: 1
            name: broken
            steps:
              - impedance:
                  control: potentiostatic
                  from: 1 MHz
                  to: 1 Hz
                  points_per_decade: 10
                  amplitude: 10 uA
            """
        let error = try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "broken.yaml") }
        #expect(error.line == 9)
        #expect(error.key == "steps[0].impedance.amplitude")
        #expect(error.value == "10 uA")
        #expect(error.allowed?.contains("mV") == true, "\(error)")
    }

    @Test("an impedance step with an unknown control")
    func impedanceControl() throws {
        let text =
            "schema: 1\nname: broken\nsteps:\n  - impedance: {control: amperostatic, from: 1 kHz, to: 1 Hz, "
            + "points_per_decade: 5, amplitude: 10 mV}\n"
        let error = try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "broken.yaml") }
        #expect(error.line == 4)
        #expect(error.value == "amperostatic")
        #expect(error.allowed == "potentiostatic, galvanostatic")
    }

    @Test("an unknown step kind")
    func unknownStep() throws {
        let error = try error(replacing: "- plate:", with: "- plait:")
        #expect(error.line == 8)
        #expect(error.value == "plait")
        #expect(error.allowed?.contains("strip") == true)
    }

    @Test("an unknown stop criterion")
    func unknownCriterion() throws {
        let text = Self.valid + "\nstop:\n  - voltage-dip: {drop: 2 mV}\n"
        let error = try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "broken.yaml") }
        #expect(error.line == 11)
        #expect(error.allowed?.contains("voltage-drop") == true)
    }

    @Test("a criterion parameter with the wrong unit")
    func criterionUnit() throws {
        let text = Self.valid + "\nstop:\n  - voltage-drop: {drop: 2 mA}\n"
        let error = try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "broken.yaml") }
        #expect(error.key == "stop[0].voltage-drop.drop")
        #expect(error.value == "2 mA")
    }

    @Test("YAML syntax errors carry their line")
    func syntax() throws {
        let error = try error(replacing: "name: broken", with: "name: [broken")
        #expect(error.line != nil)
        #expect(error.problem.contains("YAML"))
    }

    @Test("a missing schema")
    func missingSchema() throws {
        let error = try error(replacing: "schema: 1\n", with: "")
        #expect(error.problem.contains("schema"))
    }

    @Test("a plate step with a negative current")
    func negativePlate() throws {
        let text = "schema: 1\nname: x\nsteps:\n  - plate: {current_density: -1 mA/cm2, duration: 1 h}\n"
        let error = try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "x.yaml") }
        #expect(error.line == 4)
        #expect(error.problem.contains("positive"))
    }

    @Test("a step without an end")
    func endlessStep() throws {
        let text = "schema: 1\nname: x\nsteps:\n  - plate: {current_density: 1 mA/cm2}\n"
        let error = try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "x.yaml") }
        #expect(error.problem.contains("no end"))
    }
}

@Suite("Rig files")
struct RigFileTests {
    @Test("rigs/sim.yaml describes the simulated K cell")
    func simulatedRig() throws {
        let rig = try RigFile.parse(try TestSupport.readRepositoryFile("rigs/sim.yaml"), file: "rigs/sim.yaml")
        #expect(rig.id == "sim")
        #expect(rig.cell.metal == .k)
        #expect(rig.cell.electrodeArea_cm2 == 0.196)
        #expect(rig.cell.electrolyteThickness_um == 500)
        guard case .simulated(let configuration) = rig.galvanostat else {
            Issue.record("sim.yaml must use the simulated driver")
            return
        }
        #expect(configuration.model == .physics(preset: "k-beta-alumina"))
        #expect(configuration.speed == .unlimited)
    }

    @Test("the electrolyte's conductivity is read with its unit and gives the electrolyte resistance")
    func electrolyteConductivity() throws {
        let text = try TestSupport.readRepositoryFile("rigs/sim.yaml").replacingOccurrences(
            of: "  electrolyte_thickness: 0.5 mm\n",
            with: "  electrolyte_thickness: 0.5 mm\n  electrolyte_conductivity: 1 mS/cm\n")
        let rig = try RigFile.parse(text, file: "rigs/sim.yaml")
        #expect(rig.cell.electrolyteConductivity_S_cm == 1e-3)
        #expect(abs((rig.cell.electrolyteResistance_Ohm_cm2 ?? 0) - 50) < 1e-9)
        let wrong = text.replacingOccurrences(
            of: "electrolyte_conductivity: 1 mS/cm", with: "electrolyte_conductivity: 1 mS")
        let error = try #require(throws: FileError.self) { try RigFile.parse(wrong, file: "rigs/sim.yaml") }
        #expect(error.key == "cell.electrolyte_conductivity")
    }

    @Test("a bad speed names what is allowed")
    func badSpeed() throws {
        let text = try TestSupport.readRepositoryFile("rigs/sim.yaml").replacingOccurrences(
            of: "speed: max", with: "speed: fast")
        let error = try #require(throws: FileError.self) { try RigFile.parse(text, file: "rigs/sim.yaml") }
        #expect(error.key == "galvanostat.speed")
        #expect(error.allowed?.contains("max") == true)
    }
}

@Suite("Impedance steps: the circuit to fit")
struct ImpedanceCircuitKeyTests {
    func parse(_ extra: String) throws(FileError) -> TestProtocol {
        let text = """
            schema: 1
            name: eis
            steps:
              - impedance:
                  control: potentiostatic
                  from: 1 MHz
                  to: 1 Hz
                  points_per_decade: 10
                  amplitude: 10 mV
            \(extra)
            """
        return try ProtocolFile.parse(text, file: "eis.yaml")
    }

    @Test("the shipped EIS protocol names the seed's circuit and the interface resistor, carried into the plan")
    func shippedCircuit() throws {
        let path = "protocols/eis-potentiostatic.yaml"
        let plan = try StepPlan(
            expanding: try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path), area_cm2: 0.196)
        let fit = try #require(plan.steps[1].impedanceFit)
        #expect(fit.circuit.description == "p(R1,CPE1)-p(R2,CPE2)")
        #expect(fit.interfaceElement == "R2")
        #expect(fit.weighting == .modulus)
        #expect(plan.steps[0].impedanceFit == nil)
    }

    @Test("circuit, interface and weighting are read")
    func readsKeys() throws {
        let parsed = try parse(
            "      circuit: R0 - p(R1,CPE1)\n      interface: R1\n      weighting: proportional")
        guard case .impedance(let step) = parsed.steps[0] else {
            Issue.record("not an impedance step")
            return
        }
        #expect(step.fit?.circuit.description == "R0-p(R1,CPE1)")
        #expect(step.fit?.interfaceElement == "R1")
        #expect(step.fit?.weighting == .proportional)
    }

    @Test("a bad circuit is refused with file, line, the column of the bad character, and what is allowed")
    func badCircuit() throws {
        #expect {
            _ = try parse("      circuit: R0-p(R1,Q1)")
        } throws: { error in
            guard let error = error as? FileError else { return false }
            return error.line == 10 && error.column == 24 && error.key == "steps[0].impedance.circuit"
                && error.description.contains("unknown element 'Q1'") && error.description.contains("CPE")
        }
    }

    @Test("interface must be a resistor of the circuit; interface or weighting without a circuit is refused")
    func badInterface() throws {
        #expect {
            _ = try parse("      circuit: R0-p(R1,CPE1)\n      interface: CPE1")
        } throws: { error in
            (error as? FileError)?.allowed == "R0, R1" && (error as? FileError)?.line == 11
        }
        #expect {
            _ = try parse("      interface: R1")
        } throws: { error in (error as? FileError)?.description.contains("needs a `circuit`") == true }
        #expect {
            _ = try parse("      circuit: R0-p(R1,CPE1)\n      weighting: unit")
        } throws: { error in (error as? FileError)?.allowed == "modulus, proportional" }
    }
}
