// Benchmark and calibration report for the physics-based simulated cell.
//
//   cellrig-bench-sim              seed-000 step-current CCD test on the K preset until the hard short
//   cellrig-bench-sim strip        three-electrode stripping series (1, 2, 3 mA/cm2, 25 cycles) on the K preset
//   cellrig-bench-sim ccd PRESET   the CCD schedule on another preset
//   cellrig-bench-sim csv [PRESET] the CCD test's readings as CSV (time, current, voltages, pressure, temperature)

import Domain
import Simulation

/// Drives a cell with constant-current half-cycles at 1 s sampling and counts the calls.
struct HalfCycleDriver {
    var cell: PhysicsCell
    var calls = 0
    var lastReading: CellReading?

    /// Plates (negative density) or strips (positive) the working electrode for an areal capacity; stops early
    /// when `stopWhen` says so. Returns whether it ran to the end.
    mutating func run(
        density_mA_cm2: Double, capacity_mAh_cm2: Double, stopWhen: (PhysicsCell) -> Bool = { _ in false }
    ) -> Bool {
        let current_A = density_mA_cm2 * cell.parameters.electrodeArea_cm2 / 1000
        var remaining_s = capacity_mAh_cm2 / abs(density_mA_cm2) * 3600
        while remaining_s > 1e-9 {
            let interval = min(1, remaining_s)
            lastReading = cell.advance(by: interval, current_A: current_A)
            calls += 1
            remaining_s -= interval
            if stopWhen(cell) { return false }
        }
        return true
    }
}

func ccdDensity(cycle: Int) -> Double { cycle == 1 ? 0.05 : 0.1 * Double(cycle - 1) }

func runCCD(presetName: String) throws {
    let parameters = try PhysicsCellParameters.preset(named: presetName)
    var driver = HalfCycleDriver(cell: PhysicsCell(parameters: parameters))
    let shorted: (PhysicsCell) -> Bool = { cell in cell.groundTruth.contains { $0.kind == .hardShort } }
    let clock = ContinuousClock()
    let started = clock.now
    var cycle = 1
    while cycle <= 400 {
        let density = ccdDensity(cycle: cycle)
        guard driver.run(density_mA_cm2: -density, capacity_mAh_cm2: 0.5, stopWhen: shorted),
            driver.run(density_mA_cm2: density, capacity_mAh_cm2: 0.5, stopWhen: shorted)
        else { break }
        cycle += 1
    }
    let elapsed = started.duration(to: clock.now)
    let wall_s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let cell_s = driver.cell.time_s
    print("preset \(presetName): step-current CCD, 0.5 mAh/cm2 per half-cycle, 1 s sampling")
    print("  cell time      \(format(cell_s / 3600, 2)) h in \(driver.calls) advance calls")
    print("  wall time      \(format(wall_s * 1000, 1)) ms")
    print("  speed          \(format(cell_s / wall_s, 0)) cell-seconds per wall-second")
    print("  per call       \(format(wall_s / Double(driver.calls) * 1e9, 0)) ns")
    for event in driver.cell.groundTruth {
        let electrode = event.electrode ?? "-"
        print(
            "  ground truth   \(event.kind.rawValue) at \(format(event.time_s, 0)) s on \(electrode),"
                + " \(format(event.currentDensity_mA_cm2, 2)) mA/cm2")
    }
    if let short = driver.cell.groundTruth.first(where: { $0.kind == .hardShort }) {
        print("  CCD (hard short) \(format(short.currentDensity_mA_cm2, 2)) mA/cm2 in cycle \(cycle)")
    } else {
        print("  no hard short within \(cycle - 1) cycles")
    }
}

func printCCDReadings(presetName: String) throws {
    var cell = PhysicsCell(parameters: try PhysicsCellParameters.preset(named: presetName))
    print("time_s,current_A,voltage_V,pressure_MPa,temperature_C,we_contact,ce_contact,dendrite,short")
    var cycle = 1
    while cycle <= 400, !cell.groundTruth.contains(where: { $0.kind == .hardShort }) {
        let density = ccdDensity(cycle: cycle)
        for sign in [-1.0, 1.0] {
            let current_A = sign * density * cell.parameters.electrodeArea_cm2 / 1000
            var remaining_s = 0.5 / density * 3600
            while remaining_s > 1e-9 {
                let reading = cell.advance(by: min(1, remaining_s), current_A: current_A)
                remaining_s -= 1
                let state = cell.state
                print(
                    "\(reading.time_s),\(reading.current_A),\(reading.voltage_V),\(reading.pressure_MPa ?? 0),"
                        + "\(reading.temperature_C ?? 0),\(state.workingContactFraction),"
                        + "\(state.counterContactFraction),\(state.dendritePenetration),\(state.short.rawValue)")
            }
        }
        cycle += 1
    }
}

func runStrippingSeries(overrides: [String: Double]) throws {
    print("K | K-beta''-alumina, three-electrode, 2.5 MPa, 20 C, 0.5 mAh/cm2 per half-cycle, WE plated first")
    print("end-of-strip WE-RE polarisation (mV)")
    print("  j (mA/cm2)  early strip 1  end strip 1  end strip 25   seed (end 1 -> end 25)")
    let seed = [1.0: "flat", 2.0: "43 -> 54", 3.0: "70 -> 120 in strip 1, 149"]
    for density in [1.0, 2.0, 3.0] {
        var parameters = try PhysicsCellParameters.preset(named: "k-beta-alumina").withoutNoise
        for (name, value) in overrides { try parameters.override(name, with: value) }
        parameters.isThreeElectrode = true
        var driver = HalfCycleDriver(cell: PhysicsCell(parameters: parameters))
        var early = 0.0
        var endFirst = 0.0
        var endLast = 0.0
        for cycle in 1...25 {
            _ = driver.run(density_mA_cm2: -density, capacity_mAh_cm2: 0.5)
            if cycle == 1 {
                _ = driver.run(density_mA_cm2: density, capacity_mAh_cm2: 0.02)
                early = (driver.lastReading?.voltageWERE_V ?? 0) * 1000
                _ = driver.run(density_mA_cm2: density, capacity_mAh_cm2: 0.48)
            } else {
                _ = driver.run(density_mA_cm2: density, capacity_mAh_cm2: 0.5)
            }
            let end = (driver.lastReading?.voltageWERE_V ?? 0) * 1000
            if cycle == 1 { endFirst = end }
            if cycle == 25 { endLast = end }
        }
        print(
            "  \(format(density, 1))         \(format(early, 1))           \(format(endFirst, 1))"
                + "        \(format(endLast, 1))          \(seed[density] ?? "")")
        let events = driver.cell.groundTruth.map { "\($0.kind.rawValue)@\($0.electrode ?? "-")" }
        print("      ground truth: \(events.isEmpty ? "none" : events.joined(separator: ", "))")
    }
}

func format(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return decimals == 0 ? String(Int(rounded)) : String(rounded)
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "strip":
        // Optional NAME=VALUE overrides, for calibration.
        var overrides: [String: Double] = [:]
        for argument in arguments.dropFirst() {
            let parts = argument.split(separator: "=")
            if parts.count == 2, let value = Double(parts[1]) { overrides[String(parts[0])] = value }
        }
        try runStrippingSeries(overrides: overrides)
    case "csv": try printCCDReadings(presetName: arguments.dropFirst().first ?? "k-beta-alumina")
    case "ccd": try runCCD(presetName: arguments.dropFirst().first ?? "k-beta-alumina")
    default: try runCCD(presetName: "k-beta-alumina")
    }
} catch {
    print("error: \(error)")
}
