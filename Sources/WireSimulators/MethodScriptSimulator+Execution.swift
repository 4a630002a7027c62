import Domain
import Foundation
import Simulation
import Transport

// How `MethodScriptSimulator` carries out a script: statements, the measurement loops (chronopotentiometry, open
// circuit, potential programs, impedance), and the pacing of each point on the simulation speed.
extension MethodScriptSimulator {
    func execute(
        _ statements: [MethodScriptProgram.Statement], variables: inout [String: (type: String, value: Double)],
        timerStart: inout Double, package: inout [String]?
    ) async -> Outcome {
        for statement in statements {
            switch statement.kind {
            case .setting: break
            case .cellOn: cellIsOn = true
            case .cellOff:
                cellIsOn = false
                appliedCurrent_A = 0
            case .timerStart: timerStart = cellTime_s
            case .timerGet(let name): variables[name] = ("eb", cellTime_s - timerStart)
            case .packageStart: package = []
            case .packageAdd(let name):
                guard let variable = variables[name] else { return .runtimeError(code: 0x0010, line: statement.line) }
                let number = packagesSent + 1
                let value = variable.type == "ab" && faults.sendsNaNPotential(inPackage: number) ? .nan : variable.value
                let overload = variable.type == "ba" && faults.overloadStatusInPackage == number
                package?.append(
                    variable.type + Self.encode(value)
                        + Self.metadata(type: variable.type, value: value, forcingOverload: overload))
            case .packageEnd:
                if let fields = package { await emit("P" + fields.joined(separator: ";")) }
                package = nil
                packagesSent += 1
                if cellIsOn { packagesSentWithCellOn += 1 }
                if let limit = faults.hangUpAfterPackages, packagesSent >= limit {
                    await waitUntilHostHasReadEverything()
                    await transport?.close()
                    return .aborted
                }
                if let limit = faults.overloadAfterPackages, packagesSent >= limit {
                    return .runtimeError(code: 0x0032, line: statement.line)
                }
            case .sendString(let text): await emit("T" + text)
            case .breakLoop: return .broken
            case .condition(let name, let comparison, let threshold, let body):
                guard let value = variables[name]?.value else {
                    return .runtimeError(code: 0x0010, line: statement.line)
                }
                if Self.holds(value, comparison, threshold) {
                    let outcome = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
                    if case .completed = outcome { continue }
                    return outcome
                }
            case .loop(let name, let comparison, let threshold, let body):
                await emit("L")
                while true {
                    guard let value = variables[name]?.value else {
                        return .runtimeError(code: 0x0010, line: statement.line)
                    }
                    guard Self.holds(value, comparison, threshold) else { break }
                    let outcome = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
                    if case .completed = outcome {
                        if abortRequested || portGone { return .aborted }
                        continue
                    }
                    if case .broken = outcome { break }
                    return outcome
                }
                await emit("+")
            case .measure(let integration, let name, let type):
                let reading = cell.advance(by: integration, current_A: cellIsOn ? appliedCurrent_A : 0)
                cellTime_s += integration
                switch type {
                case "ab": variables[name] = (type, reading.voltageWERE_V ?? reading.voltage_V)
                case "ag": variables[name] = (type, reading.voltage_V)
                case "ba": variables[name] = (type, reading.current_A)
                default: return .runtimeError(code: 0x001B, line: statement.line)
                }
            case .chronopotentiometry(let potential, let current, let current_A, let interval, let duration, let body):
                if !cellIsOn { return .runtimeError(code: 0x4027, line: statement.line) }
                let outcome = await measurementLoop(
                    technique: "000A", interval_s: interval, duration_s: duration, current_A: current_A, body: body,
                    variables: &variables, timerStart: &timerStart, package: &package
                ) { reading, variables in
                    // `ab` is WE vs RE: the cell voltage when RE is wired to CE (a model without a reference).
                    variables[potential] = ("ab", reading.voltageWERE_V ?? reading.voltage_V)
                    variables[current] = ("ba", reading.current_A)
                }
                if case .completed = outcome { continue }
                return outcome
            case .openCircuitPotential(let potential, let interval, let duration, let body):
                if cellIsOn { return .runtimeError(code: 0x0014, line: statement.line) }
                let outcome = await measurementLoop(
                    technique: "000B", interval_s: interval, duration_s: duration, current_A: 0, body: body,
                    variables: &variables, timerStart: &timerStart, package: &package
                ) { reading, variables in
                    variables[potential] = ("ab", reading.voltageWERE_V ?? reading.voltage_V)
                }
                if case .completed = outcome { continue }
                return outcome
            case .potentiostatic(
                let potential, let current, let program, let interval, let duration, let technique, let body):
                if !cellIsOn { return .runtimeError(code: 0x4027, line: statement.line) }
                let outcome = await potentialLoop(
                    technique: technique, program: program, interval_s: interval, duration_s: duration, body: body,
                    variables: &variables, timerStart: &timerStart, package: &package
                ) { target, reading, variables in
                    variables[potential] = ("da", target)
                    variables[current] = ("ba", reading.current_A)
                }
                if case .completed = outcome { continue }
                return outcome
            case .impedance(
                let galvanostatic, let frequency, let real, let imaginary, _, let start, let end, let points, _,
                let body):
                if !cellIsOn { return .runtimeError(code: 0x4027, line: statement.line) }
                let outcome = await impedanceLoop(
                    technique: galvanostatic ? "000E" : "000D", frequencies_Hz: Self.sweep(start, end, points),
                    body: body, variables: &variables, timerStart: &timerStart, package: &package
                ) { frequency_Hz, impedance, variables in
                    variables[frequency] = ("dc", frequency_Hz)
                    variables[real] = ("cc", impedance.real)
                    variables[imaginary] = ("cd", impedance.imaginary)
                }
                if case .completed = outcome { continue }
                return outcome
            }
            if abortRequested || portGone { return .aborted }
        }
        return .completed
    }

    /// One iteration per point of a galvanostatic (or open-circuit) loop: the cell carries the loop's current over
    /// the interval, or none while the cell is off, and the reading at its end is what the point reports.
    func measurementLoop(
        technique: String, interval_s: Double, duration_s: Double, current_A: Double,
        body: [MethodScriptProgram.Statement], variables: inout [String: (type: String, value: Double)],
        timerStart: inout Double, package: inout [String]?,
        store: (CellReading, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        appliedCurrent_A = cellIsOn ? current_A : 0
        return await pointLoop(
            technique: technique, pointDurations_s: Self.points(every: interval_s, for: duration_s), body: body,
            variables: &variables, timerStart: &timerStart, package: &package
        ) { _, duration_s, variables in
            let reading = cell.advance(by: duration_s, current_A: cellIsOn ? current_A : 0)
            cellTime_s += duration_s
            store(reading, &variables)
        }
    }

    /// One iteration per point of a potentiostatic loop: the cell is held at the programmed potential over the
    /// interval (WE against the RE input, which is the cell voltage when RE is wired to CE), and the current it
    /// draws is what the point reports.
    func potentialLoop(
        technique: String, program: PotentialProgram, interval_s: Double, duration_s: Double,
        body: [MethodScriptProgram.Statement], variables: inout [String: (type: String, value: Double)],
        timerStart: inout Double, package: inout [String]?,
        store: (Double, CellReading, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        var elapsed = 0.0
        return await pointLoop(
            technique: technique, pointDurations_s: Self.points(every: interval_s, for: duration_s), body: body,
            variables: &variables, timerStart: &timerStart, package: &package
        ) { _, duration_s, variables in
            let target = program.potential(atElapsed: elapsed + duration_s)
            let reading = cell.advance(
                by: duration_s, holding: target, versus: .reference, compliance_A: Self.largestCurrent_A,
                guess_A: appliedCurrent_A)
            appliedCurrent_A = reading.current_A
            cellTime_s += duration_s
            elapsed += duration_s
            store(target, reading, &variables)
        }
    }

    /// The largest current the simulated instrument drives under potential control (the EmStat4 HR's top range).
    static let largestCurrent_A = 0.1

    /// One iteration per frequency: each point takes `ImpedanceSettings.pointDuration_s` of cell time at zero DC
    /// current, then the model's impedance at that frequency is stored for the body.
    func impedanceLoop(
        technique: String, frequencies_Hz: [Double], body: [MethodScriptProgram.Statement],
        variables: inout [String: (type: String, value: Double)], timerStart: inout Double, package: inout [String]?,
        store: (Double, Complex, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        return await pointLoop(
            technique: technique, pointDurations_s: frequencies_Hz.map(ImpedanceSettings.pointDuration_s(atFrequency:)),
            body: body, variables: &variables, timerStart: &timerStart, package: &package
        ) { index, duration_s, variables in
            let frequency = frequencies_Hz[index]
            _ = cell.advance(by: duration_s, current_A: 0)
            cellTime_s += duration_s
            store(frequency, cell.measureImpedance(atFrequency: frequency), &variables)
        }
    }

    /// The frame of every measurement loop: announces the technique, then for each point waits its cell time, lets
    /// `takePoint` (given the point's index and duration) advance the cell and store the point's values, and runs
    /// the loop's body, until the points run out, the host aborts or leaves the loop, the body breaks or fails, or
    /// the port goes.
    func pointLoop(
        technique: String, pointDurations_s: some Sequence<Double>, body: [MethodScriptProgram.Statement],
        variables: inout [String: (type: String, value: Double)], timerStart: inout Double, package: inout [String]?,
        takePoint: (_ index: Int, _ duration_s: Double, inout [String: (type: String, value: Double)]) -> Void
    ) async -> Outcome {
        await emit("M" + technique)
        var outcome = Outcome.completed
        for (index, duration_s) in pointDurations_s.enumerated()
        where !abortRequested && !leaveLoopRequested && !portGone {
            await pace(cellSeconds: duration_s)
            if abortRequested || Task.isCancelled { break }
            takePoint(index, duration_s, &variables)
            let result = await execute(body, variables: &variables, timerStart: &timerStart, package: &package)
            if case .completed = result { continue }
            if case .broken = result { break }
            outcome = result
            break
        }
        leaveLoopRequested = false
        if case .runtimeError = outcome { return outcome }
        await emit("*")
        return abortRequested ? .aborted : .completed
    }

    /// The points of a timed loop, lazily: `interval_s` each, as many as fit in `duration_s`.
    static func points(every interval_s: Double, for duration_s: Double) -> some Sequence<Double> {
        sequence(state: 0.0) { elapsed in
            guard elapsed + interval_s <= duration_s * (1 + 1e-12) else { return nil }
            elapsed += interval_s
            return interval_s
        }
    }

    /// `count` log-spaced frequencies from `start` to `end`, both included.
    static func sweep(_ start: Double, _ end: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return [start] }
        let ratio = log10(end / start)
        let step = ratio / Double(count - 1)
        return (0..<count).map { index in start * pow(10.0, step * Double(index)) }
    }

    static func holds(_ value: Double, _ comparison: String, _ threshold: Double) -> Bool {
        switch comparison {
        case ">": value > threshold
        case "<": value < threshold
        case ">=": value >= threshold
        default: value <= threshold
        }
    }

    /// Waits before a point: in step with the host at unlimited speed, else `cellSeconds` scaled by the speed;
    /// then as long as the script is halted.
    func pace(cellSeconds: Double) async {
        switch speed {
        case .unlimited: await waitForHostToCatchUp()
        case .factor(let factor): try? await Task.sleep(for: .seconds(cellSeconds / factor))
        }
        while halted, !abortRequested, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
    }

    /// Waits until the host has read what was sent (the unread byte count on its side reaches 0) and the
    /// instrument has received what the host sent: paces the simulator at unlimited speed.
    ///
    /// The second half keeps the simulated clock honest. A real instrument runs on its own clock and acts on a
    /// command within the interval it arrives in; a simulator paced only by the host's reading would go on
    /// measuring while a command the host sent (an abort, `Z`) waits to be read, and under load that is
    /// seconds of cell time: packages the host then records as late, and a next step whose program starts
    /// seconds after the engine began it.
    func waitForHostToCatchUp() async {
        guard let backlogReporting = transport as? any OutputBacklogReporting else {
            await Task.yield()
            return
        }
        var pause = Duration.milliseconds(1)
        while !abortRequested, !portGone, !Task.isCancelled {
            let unread = await backlogReporting.unreadOutputByteCount()
            let unreceived = await backlogReporting.unreceivedInputByteCount()
            if unread == 0, unreceived == 0 { break }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(20))
        }
    }

    /// Waits until the host has surely read everything sent, before an unplug. The kernel hands written bytes to
    /// the host's side asynchronously (a kernel worker moves them), so an empty queue right after a write can mean
    /// "not there yet" as well as "read": the queue must be seen empty five times over 250 ms, longer than a loaded
    /// machine keeps that worker waiting (30 ms was not: a package was lost with the hang-up under load).
    func waitUntilHostHasReadEverything() async {
        guard let backlogReporting = transport as? any OutputBacklogReporting else { return }
        var emptyChecks = 0
        while emptyChecks < 5, !abortRequested, !portGone, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
            emptyChecks = await backlogReporting.unreadOutputByteCount() > 0 ? 0 : emptyChecks + 1
        }
    }
}
