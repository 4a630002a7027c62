import Domain
import ProtocolFiles
import TestSupport
import Testing

@Suite("Potentiostatic steps, sweeps and relaxing rests in protocol files")
struct PotentiostaticProtocolTests {
    static func text(steps: String, stop: String = "", threeElectrode: Bool = true) -> String {
        """
        schema: 1
        name: potentiostatic
        three_electrode: \(threeElectrode)
        steps:
        \(steps)
        \(stop)
        """
    }

    static let cv = """
          - rest:
              duration: 5 min
              until: dV/dt < 0.1 mV/min for 10 s
          - sweep:
              from: 0 mV
              vertices: [10 mV, -10 mV]
              rate: 10 mV/s
              cycles: 3
              current_limit: 5 uA
          - potentiostatic:
              potential: 5 mV
              versus: RE
              duration: 1 min
              current_limit: 2 uA
              current_cutoff: 1 nA
        """

    @Test("sweeps, holds and relaxing rests parse and plan with their durations")
    func parsesAndPlans() throws {
        let parsed = try ProtocolFile.parse(Self.text(steps: Self.cv), file: "cv.yaml")
        guard case .sweep(let sweep) = parsed.steps[1], case .potentiostatic(let hold) = parsed.steps[2],
            case .rest(let rest) = parsed.steps[0]
        else {
            Issue.record("steps of the wrong kind: \(parsed.steps)")
            return
        }
        #expect(sweep.versus == .reference, "a three-electrode protocol sweeps against the RE by default")
        #expect(sweep.from_V == 0 && sweep.vertices_V == [0.01, -0.01] && sweep.to_V == 0)
        #expect(abs(sweep.rate_V_s - 0.01) < 1e-15 && sweep.cycles == 3)
        #expect(hold.potential_V == 0.005 && hold.versus == .reference)
        #expect(abs(rest.until!.rate_V_s - 1e-4 / 60) < 1e-18 && rest.until!.hold_s == 10)

        let plan = try StepPlan(expanding: parsed, area_cm2: 7.854e-7)
        #expect(plan.steps.map(\.kind) == [.rest, .sweep, .potentiostatic])
        // 0 -> 10 -> -10 -> 0 mV is 40 mV a cycle: 4 s at 10 mV/s, 12 s for three cycles.
        #expect(abs(plan.steps[1].expectedDuration_s! - 12) < 1e-9)
        #expect(plan.steps[1].potential?.corners_V == [0, 0.01, -0.01, 0])
        #expect(abs(plan.steps[1].currentLimit_A! - 5e-6) < 1e-18)
        #expect(plan.steps[2].expectedDuration_s == 60)
        #expect(plan.steps[2].currentCutoff_A == 1e-9)
        #expect(plan.steps[0].relaxation?.hold_s == 10)

        let rendered = PlanRendering.text(plan, protocolName: parsed.name)
        #expect(rendered.contains("0 mV -> 10 mV -> -10 mV -> 0 mV vs RE at 10 mV/s, 3 cycles"), "\(rendered)")
        #expect(rendered.contains("12 s"))
        #expect(rendered.contains("dV/dt < 0.1 mV/min for 10 s"))
        #expect(rendered.contains("ends at |I| <= 1 nA"))
    }

    @Test("a sweep's potential follows its corners at the scan rate and holds its end")
    func programPotential() {
        let program = PotentialProgram(versus: .reference, corners_V: [0, 0.01, -0.01, 0], rate_V_s: 0.01, cycles: 2)
        #expect(program.duration_s == 8)
        #expect(abs(program.potential(atElapsed: 0.5) - 0.005) < 1e-12)
        #expect(abs(program.potential(atElapsed: 1) - 0.01) < 1e-12)
        #expect(abs(program.potential(atElapsed: 2.5) - (-0.005)) < 1e-12)
        #expect(abs(program.potential(atElapsed: 5) - 0.01) < 1e-12, "the second cycle repeats the first")
        #expect(program.potential(atElapsed: 100) == 0)
    }

    /// The error for `steps` (with `stop`), which must be refused.
    func refusal(_ steps: String, stop: String = "", threeElectrode: Bool = true) throws -> String {
        do {
            _ = try ProtocolFile.parse(
                Self.text(steps: steps, stop: stop, threeElectrode: threeElectrode), file: "bad.yaml")
        } catch {
            return error.description
        }
        Issue.record("accepted: \(steps)")
        return ""
    }

    @Test("a zero or negative scan rate is refused at its line with the allowed range")
    func zeroRate() throws {
        let message = try refusal(
            """
              - sweep:
                  from: 0 mV
                  to: 1 V
                  rate: 0 mV/s
            """)
        #expect(message.hasPrefix("bad.yaml:8:"), "\(message)")
        #expect(message.contains("out of range") && message.contains("1e-07 to 10 V/s"), "\(message)")
    }

    @Test("vertices outside the protocol's voltage window are refused at the step with the window")
    func verticesOutsideWindow() throws {
        let message = try refusal(
            """
              - sweep:
                  from: 0 mV
                  vertices: [10 mV, -2 V]
                  rate: 10 mV/s
            """,
            stop: """
                stop:
                  - voltage-window:
                      min: -1 V
                      max: 1 V
                """)
        #expect(message.hasPrefix("bad.yaml:5:"), "\(message)")
        #expect(message.contains("-2 V") && message.contains("-1 V to 1 V"), "\(message)")
    }

    @Test("vertices outside a rig's voltage limit are refused with that range")
    func verticesOutsideRig() throws {
        let parsed = try ProtocolFile.parse(
            Self.text(
                steps: """
                      - sweep:
                          from: 0 V
                          vertices: [6 V]
                          rate: 10 mV/s
                    """), file: "rig.yaml")
        #expect(throws: PlanError.self) {
            try TestProtocol.checkPotentials(parsed.steps, within: -5...5, limitName: "the rig's voltage limit")
        }
        do {
            try TestProtocol.checkPotentials(parsed.steps, within: -5...5, limitName: "the rig's voltage limit")
        } catch {
            #expect(error.description(file: "rig.yaml").hasPrefix("rig.yaml:5:"))
            #expect(error.message.contains("-5 V to 5 V"))
        }
    }

    @Test("dendrite and voiding criteria on a protocol with no step they can judge are refused at their line")
    func criteriaThatCannotJudge() throws {
        for name in ["dendrite-short", "voiding", "voltage-drop", "hard-short"] {
            let message = try refusal(
                Self.cv,
                stop: """
                    stop:
                      - \(name): {}
                    """)
            #expect(message.hasPrefix("bad.yaml:21:"), "\(message)")
            #expect(message.contains("`\(name)` judges only plate, strip, galvanostatic steps"), "\(message)")
        }
        // With a galvanostatic step beside the sweep, the criterion judges that step and the protocol is accepted.
        let mixed = try ProtocolFile.parse(
            Self.text(
                steps: Self.cv + "\n  - plate: {current: 10 nA, duration: 10 s}",
                stop: "stop:\n  - dendrite-short: {}"), file: "mixed.yaml")
        #expect(mixed.stopCriteria.map(\.name) == ["dendrite-short"])
    }

    @Test("a potential vs RE needs a three-electrode protocol; a hold needs an end; a rule needs its parts")
    func otherRefusals() throws {
        let reference = try refusal(
            "  - potentiostatic: {potential: 5 mV, versus: RE, duration: 1 min}", threeElectrode: false)
        #expect(reference.contains("three_electrode: true") && reference.contains("allowed: CE"), "\(reference)")
        let endless = try refusal("  - potentiostatic: {potential: 5 mV}")
        #expect(endless.contains("the step has no end"), "\(endless)")
        let rule = try refusal("  - rest: {duration: 10 min, until: dV/dt < 0.1 mV/min}")
        #expect(rule.contains("for TIME") && rule.hasPrefix("bad.yaml:5:"), "\(rule)")
        let unit = try refusal("  - rest: {duration: 10 min, until: dV/dt < 0.1 mV for 5 min}")
        #expect(unit.contains("mV/min"), "\(unit)")
        let long = try refusal("  - rest: {duration: 1 min, until: dV/dt < 0.1 mV/min for 5 min}")
        #expect(long.contains("shorter than 1 min"), "\(long)")
        let cycles = try refusal("  - sweep: {from: 0 V, to: 1 V, rate: 1 mV/s, cycles: 2}")
        #expect(cycles.contains("end where it began"), "\(cycles)")
        let nowhere = try refusal("  - sweep: {from: 5 mV, to: 5 mV, rate: 1 mV/s}")
        #expect(nowhere.contains("goes nowhere"), "\(nowhere)")
    }

    @Test("every shipped protocol names the rig it is written for")
    func shippedProtocolsNameTheirRig() throws {
        for path in ProtocolFileTests.shipped {
            let parsed = try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path)
            #expect(parsed.intendedRig != nil, "\(path) has no `rig:`")
        }
    }
}
