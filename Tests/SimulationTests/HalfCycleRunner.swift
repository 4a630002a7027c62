import Domain
import Simulation

/// Drives a `PhysicsCell` with constant-current steps by areal capacity or duration at a fixed sampling interval,
/// keeping the readings of the steps that are asked to record them.
struct HalfCycleRunner {
    var cell: PhysicsCell
    var samplingInterval_s = 1.0
    private(set) var lastReading: CellReading?

    init(_ parameters: PhysicsCellParameters) {
        cell = PhysicsCell(parameters: parameters)
    }

    var area_cm2: Double { cell.parameters.electrodeArea_cm2 }

    /// Runs one half-cycle: a negative density plates the working electrode, a positive one strips it.
    /// Stops early (returning false) once `until` holds; returns the readings when `recording` is set.
    @discardableResult
    mutating func halfCycle(
        density_mA_cm2: Double, capacity_mAh_cm2: Double, recording: Bool = false,
        until stop: (PhysicsCell) -> Bool = { _ in false }
    ) -> (completed: Bool, readings: [CellReading]) {
        hold(
            density_mA_cm2: density_mA_cm2, duration_s: capacity_mAh_cm2 / abs(density_mA_cm2) * 3600,
            recording: recording, until: stop)
    }

    /// Holds a current density (0 is open circuit) for a duration.
    @discardableResult
    mutating func hold(
        density_mA_cm2: Double, duration_s: Double, recording: Bool = false,
        until stop: (PhysicsCell) -> Bool = { _ in false }
    ) -> (completed: Bool, readings: [CellReading]) {
        let current_A = density_mA_cm2 * area_cm2 / 1000
        var readings: [CellReading] = []
        var remaining_s = duration_s
        while remaining_s > 1e-9 {
            let interval = min(samplingInterval_s, remaining_s)
            let reading = cell.advance(by: interval, current_A: current_A)
            lastReading = reading
            if recording { readings.append(reading) }
            remaining_s -= interval
            if stop(cell) { return (false, readings) }
        }
        return (true, readings)
    }

    func events(_ kind: GroundTruthEvent.Kind) -> [GroundTruthEvent] {
        cell.groundTruth.filter { $0.kind == kind }
    }
}

/// The seed-000 step-current schedule: 0.05 mA/cm2, then 0.1, then +0.1 mA/cm2 per cycle.
func stepCurrentDensity(cycle: Int) -> Double {
    cycle == 1 ? 0.05 : 0.1 * Double(cycle - 1)
}

func kPreset() -> PhysicsCellParameters {
    try! PhysicsCellParameters.preset(named: "k-beta-alumina")
}
