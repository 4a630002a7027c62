import Domain
import ProtocolFiles
import TestSupport
import Testing

@Suite("Conditioning steps: set_temperature and wait")
struct ConditioningStepTests {
    private func parse(_ steps: String) throws(FileError) -> TestProtocol {
        try ProtocolFile.parse("schema: 1\nname: c\nsteps:\n" + steps, file: "c.yaml")
    }

    @Test func setTemperatureWithAndWithoutItsWait() throws {
        let parsed = try parse(
            """
              - set_temperature: {setpoint: 80 C, wait: {within: 1 C, for: 10 min}, timeout: 2 h}
              - set_temperature: {setpoint: 298.15 K}
            """)
        let plan = try StepPlan(expanding: parsed, area_cm2: 1)
        #expect(plan.steps.map(\.kind) == [.setTemperature, .setTemperature])
        #expect(plan.steps[0].temperatureSetpoint_C == 80)
        #expect(
            plan.steps[0].wait
                == WaitRule(
                    conditions: [WaitCondition(quantity: .temperature, target: 80, tolerance: 1, hold_s: 600)],
                    timeout_s: 7200))
        #expect(abs((plan.steps[1].temperatureSetpoint_C ?? 0) - 25) < 1e-9)
        #expect(plan.steps[1].wait == nil && plan.steps[1].expectedDuration_s == 0)
        #expect(plan.steps[0].expectedDuration_s == 600, "a wait takes at least its settling time")
    }

    @Test("the issue's sentences, one or a list, with the unit after the tolerance or after both numbers")
    func waitSentences() throws {
        let parsed = try parse(
            """
              - wait: {until: temperature within 80 +/- 1 C for 10 min, timeout: 1 h}
              - wait:
                  until:
                    - stack_pressure within 7 +/- 0.2 MPa for 5 min
                    - temperature within 25 C +/- 0.5 C for 30 s
            """)
        let plan = try StepPlan(expanding: parsed, area_cm2: 1)
        #expect(
            plan.steps[0].wait
                == WaitRule(
                    conditions: [WaitCondition(quantity: .temperature, target: 80, tolerance: 1, hold_s: 600)],
                    timeout_s: 3600))
        let second = try #require(plan.steps[1].wait)
        #expect(second.timeout_s == nil)
        #expect(
            second.conditions == [
                WaitCondition(quantity: .stackPressure, target: 7, tolerance: 0.2, hold_s: 300),
                WaitCondition(quantity: .temperature, target: 25, tolerance: 0.5, hold_s: 30),
            ])
        #expect(second.conditions[0].description == "stack_pressure within 7 +/- 0.2 MPa for 5 min")
    }

    @Test(
        "bad conditioning steps are refused with file, line, key, value and what is allowed",
        arguments: [
            ("  - wait: {until: humidity within 5 +/- 1 C for 1 min}", "steps[0].wait.until", "stack_pressure", 4),
            ("  - wait: {until: temperature within 80 C for 10 min}", "steps[0].wait.until", "+/-", 4),
            ("  - wait: {until: temperature within 80 +/- 1 C}", "steps[0].wait.until", "for 10 min", 4),
            ("  - wait: {until: temperature within 80 +/- 1 MPa for 1 min}", "steps[0].wait.until", "within", 4),
            (
                "  - wait: {until: temperature within 80 +/- 1 C for 1 min, timeout: soon}", "steps[0].wait.timeout",
                nil, 4
            ),
            ("  - set_temperature: {setpoint: 80}", "steps[0].set_temperature.setpoint", nil, 4),
            ("  - set_temperature: {setpoint: 80 C, timeout: 1 h}", "steps[0].set_temperature.timeout", "wait", 4),
            ("  - set_temperature: {setpoint: 900 C}", "steps[0].set_temperature.setpoint", nil, 4),
            (
                "  - wait: {until: temperature within 80 +/- 1 C for 10 min, timeout: 5 min}", "steps[0].wait.timeout",
                "more than 10 min", 4
            ),
        ] as [(String, String, String?, Int)])
    func refused(step: String, key: String, allowed: String?, line: Int) throws {
        do {
            _ = try parse(step + "\n")
            Issue.record("\(step) must be refused")
        } catch {
            #expect(error.file == "c.yaml")
            #expect(error.key == key, "\(error)")
            #expect(error.line == line, "\(error)")
            if let allowed { #expect(error.allowed?.contains(allowed) == true, "\(error)") }
        }
    }

    @Test("seed 004's whole procedure: heat, hold, cool, wait for pressure, impedance, CCD, impedance")
    func seed004Procedure() throws {
        let path = "protocols/conditioned-ccd-3e.yaml"
        let parsed = try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path)
        let plan = try StepPlan(expanding: parsed, area_cm2: 0.0314)
        let kinds = plan.steps.map(\.kind)
        #expect(Array(kinds.prefix(5)) == [.setTemperature, .wait, .setTemperature, .wait, .impedance])
        #expect(kinds.last == .impedance)
        #expect(plan.steps[0].temperatureSetpoint_C == 80 && plan.steps[2].temperatureSetpoint_C == 25)
        #expect(plan.steps[1].wait?.conditions.map(\.quantity) == [.temperature, .stackPressure])
        #expect(
            plan.steps[3].wait?.conditions == [.init(quantity: .stackPressure, target: 7, tolerance: 0.2, hold_s: 300)])
        #expect(plan.steps[5].kind == .plate && abs(plan.steps[5].currentDensity_mA_cm2 - 0.5) < 1e-12)
        let rendered = PlanRendering.text(plan, protocolName: parsed.name)
        #expect(
            rendered.contains("until temperature within 80 +/- 1 C for 1 h and stack_pressure within 7 +/- 0.2 MPa"))
        #expect(rendered.contains("setpoint 80 C"))
    }
}
