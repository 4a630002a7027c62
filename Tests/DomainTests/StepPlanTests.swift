import TestSupport
import Testing

@testable import Domain

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

@Suite("Schedule lengths are computed, not counted")
struct ScheduleArithmeticTests {
    /// The schedule's cycles as they were counted before issue 11: step on until a value's magnitude passes the
    /// maximum. Only for schedules short enough to count.
    func counted(_ schedule: CurrentSchedule) -> Int {
        guard let last = schedule.values.last, let increment = schedule.increment, let maximum = schedule.maximum else {
            return schedule.values.count
        }
        var extra = 0
        while abs(roundedToGrid(last.signedValue + Double(extra + 1) * increment.signedValue))
            <= maximum.magnitude * (1 + 1e-9)
        {
            extra += 1
        }
        return schedule.values.count + extra
    }

    @Test("the computed count equals the counted one for decimal schedules as files write them")
    func matchesCounting() {
        var random = SplitMix64(seed: 11)
        let steps = [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2.5]
        for _ in 0..<2000 {
            let sign: Double = Bool.random(using: &random) ? 1 : -1
            let increment = steps.randomElement(using: &random)!
            let start = Double(Int.random(in: 0...40, using: &random)) * steps.randomElement(using: &random)!
            let maximum =
                start + Double(Int.random(in: 0...3000, using: &random)) * increment
                + [0, increment / 2, increment * 0.999_999].randomElement(using: &random)!
            let schedule = CurrentSchedule(
                values: [.density_mA_cm2(sign * start)], increment: .density_mA_cm2(sign * increment),
                maximum: .density_mA_cm2(sign * maximum))
            #expect(schedule.cycleCount == counted(schedule), "\(schedule)")
            let count = schedule.cycleCount ?? 0
            #expect(schedule.setting(forCycle: count) != nil && schedule.setting(forCycle: count + 1) == nil)
        }
    }

    @Test("an increment of zero never ends; no maximum never ends; currents and densities do not mix")
    func degenerate() {
        #expect(CurrentSchedule(values: [.current_A(1e-3)], increment: .current_A(0)).cycleCount == nil)
        #expect(
            CurrentSchedule(values: [.current_A(1e-3)], increment: .current_A(0), maximum: .current_A(2e-3)).cycleCount
                == nil)
        #expect(CurrentSchedule(values: [.current_A(1e-3)], increment: .current_A(1e-3)).cycleCount == nil)
        let mixed = CurrentSchedule(
            values: [.current_A(1e-3)], increment: .density_mA_cm2(1), maximum: .density_mA_cm2(5))
        #expect(mixed.cycleCount == 1 && mixed.setting(forCycle: 2) == nil)
    }
}
