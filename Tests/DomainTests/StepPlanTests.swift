import Domain
import Testing

@Suite("Current schedules and step plans")
struct StepPlanTests {
    let ccdSchedule = CurrentSchedule(
        values: [.density_mA_cm2(0.05), .density_mA_cm2(0.1)], increment: .density_mA_cm2(0.1),
        maximum: .density_mA_cm2(10))

    @Test("a schedule lists its values, then adds the increment up to the maximum")
    func schedule() {
        #expect(ccdSchedule.setting(forCycle: 1) == .density_mA_cm2(0.05))
        #expect(ccdSchedule.setting(forCycle: 2) == .density_mA_cm2(0.1))
        #expect(ccdSchedule.setting(forCycle: 3) == .density_mA_cm2(0.2))
        // Cycle 49 is exactly 4.8, with no floating-point dust.
        #expect(ccdSchedule.setting(forCycle: 49) == .density_mA_cm2(4.8))
        #expect(ccdSchedule.setting(forCycle: 101) == .density_mA_cm2(10))
        #expect(ccdSchedule.setting(forCycle: 102) == nil)
        #expect(ccdSchedule.cycleCount == 101)
    }

    @Test("negative staircases bound by magnitude")
    func negativeStaircase() {
        let staircase = CurrentSchedule(
            values: [.current_A(-2e-9), .current_A(-0.1e-6)], increment: .current_A(-0.1e-6),
            maximum: .current_A(-2.2e-6))
        #expect(staircase.cycleCount == 23)
        #expect(staircase.setting(forCycle: 23) == .current_A(-2.2e-6))
    }

    @Test("a loop expands to plate/strip steps with currents, capacities and durations")
    func expansion() throws {
        let testProtocol = TestProtocol(
            name: "ccd",
            steps: [
                .loop(
                    LoopStep(
                        current: ccdSchedule,
                        steps: [
                            .galvanostatic(GalvanostaticStep(role: .plate, capacity: .areal_mAh_cm2(0.5))),
                            .galvanostatic(GalvanostaticStep(role: .strip, capacity: .areal_mAh_cm2(0.5))),
                        ]))
            ])
        let plan = try StepPlan(expanding: testProtocol, area_cm2: 0.196)
        #expect(plan.steps.count == 202)
        let first = plan.steps[0]
        #expect(first.kind == .plate)
        #expect(first.cycle == 1)
        #expect(abs(first.current_A - (-0.05e-3 * 0.196)) < 1e-15)
        #expect(abs(first.expectedDuration_s! - 36000) < 1e-6)
        #expect(plan.steps[1].kind == .strip)
        #expect(plan.steps[1].current_A > 0)
        #expect(abs(plan.steps[4].expectedDuration_s! - 9000) < 1e-6)
        #expect(plan.steps.map(\.index) == Array(0..<202))
    }

    @Test("a loop without an end is refused")
    func unboundedLoop() {
        let testProtocol = TestProtocol(
            name: "endless",
            steps: [
                .loop(
                    LoopStep(
                        current: CurrentSchedule(values: [.density_mA_cm2(1)], increment: .density_mA_cm2(1)),
                        steps: [.galvanostatic(GalvanostaticStep(role: .plate, duration_s: 10))]))
            ])
        #expect(throws: PlanError.self) { try StepPlan(expanding: testProtocol, area_cm2: 1) }
    }

    @Test("the electrode area must be positive")
    func area() {
        let testProtocol = TestProtocol(name: "rest", steps: [.rest(RestStep(duration_s: 1))])
        #expect(throws: PlanError.self) { try StepPlan(expanding: testProtocol, area_cm2: 0) }
    }
}
