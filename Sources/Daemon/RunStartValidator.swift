import Control
import ControlServer
import Domain
import Engine
import ProtocolFiles

/// What a rig can do, known from its description before any port is opened.
struct RigCapabilities: Sendable, Hashable {
    /// Quantities its samples carry besides current and voltage.
    var measures: Set<MeasuredQuantity>
    /// Whether its galvanostat measures impedance spectra.
    var measuresImpedance: Bool
    /// Whether its galvanostat can set a potential (potentiostatic holds, sweeps).
    var setsPotential: Bool
    /// Whether it has a temperature controller (or a simulated heater) that `set_temperature` steps can set.
    var controlsTemperature: Bool

    init(_ rig: RigDescription) {
        switch rig.galvanostat {
        case .simulated:
            // The cell models report the clamp's pressure and the cell's temperature with every reading.
            measures = [.stackPressure, .temperature]
            measuresImpedance = true
            setsPotential = true
        case .methodScript:
            measures = rig.pressureSensor == nil ? [] : [.stackPressure]
            measuresImpedance = true
            setsPotential = true
        case .keithley2400:
            measures = rig.pressureSensor == nil ? [] : [.stackPressure]
            measuresImpedance = false
            setsPotential = true
        }
        // A temperature controller's process value fills every sample's temperature.
        if rig.temperatureController != nil { measures.insert(.temperature) }
        controlsTemperature = rig.maximumTemperatureSetpoint_C != nil
    }
}

/// A start request that passed every check that needs no instrument: the protocol, the cell it runs on, and the
/// engine built for it.
struct ValidatedStart: Sendable {
    let testProtocol: TestProtocol
    let cell: CellDescription
    let engine: RunEngine
    /// Optional criteria that will judge nothing on this rig, each with the reason, for the run's record.
    let blindCriteria: [(criterion: String, reason: String)]

    /// The engine for the run, with what the prepared instruments told about their readings (the galvanostat's
    /// voltage resolution, which the criteria take as their noise floor).
    func engine(voltageResolution_V: Double?) -> RunEngine {
        guard let voltageResolution_V else { return engine }
        var context = RunContext(cell: cell, conditions: testProtocol.conditions)
        context.voltageResolution_V = voltageResolution_V
        // The same protocol and cell built it once already, so it builds again.
        guard var rebuilt = try? RunEngine(protocol: testProtocol, area_cm2: cell.electrodeArea_cm2, context: context)
        else { return engine }
        rebuilt.currentWindow_A = engine.currentWindow_A
        return rebuilt
    }
}

/// Checks a start request against a rig before anything is opened or stored. Pure: every refusal is a 400 that says
/// what is wrong, in which file, and what is allowed.
struct RunStartValidator {
    let rig: RigDescription

    func validate(_ request: StartRunRequest) throws(ControlFailure) -> ValidatedStart {
        let file = request.protocol_file
        let testProtocol: TestProtocol
        do {
            testProtocol = try ProtocolFile.parse(request.protocol_text, file: file, parameters: request.parameters)
        } catch {
            throw .badRequest(error.description)
        }
        var cell = rig.cell
        if let label = request.cell_label { cell.label = label }
        if let area = request.area_cm2 {
            guard area > 0, area.isFinite else {
                throw .badRequest("area_cm2 must be a positive number of cm2, got \(area)")
            }
            cell.electrodeArea_cm2 = area
        }
        var engine: RunEngine
        do {
            engine = try RunEngine(
                protocol: testProtocol, area_cm2: cell.electrodeArea_cm2,
                context: RunContext(cell: cell, conditions: testProtocol.conditions))
        } catch {
            throw .badRequest("\(file): \(error.message)")
        }
        if let largest = engine.plan.steps.map({ abs($0.current_A) }).max(), largest > rig.limits.current_A {
            throw .badRequest(
                "\(file): the plan needs \(formatCurrent(largest)) but rig '\(rig.id)' is limited to "
                    + "\(formatCurrent(rig.limits.current_A)) (limits.current in its rig file); lower the schedule's "
                    + "maximum or raise the limit")
        }
        engine.currentWindow_A = rig.limits.current_A
        let capabilities = RigCapabilities(rig)
        if engine.plan.steps.contains(where: { $0.kind == .impedance }), !capabilities.measuresImpedance {
            throw .badRequest(
                "\(file): the protocol has impedance steps, but rig '\(rig.id)' has a galvanostat that cannot "
                    + "measure impedance (\(rig.galvanostat.driverName))")
        }
        if let step = engine.plan.steps.first(where: { $0.kind.controlsPotential }), !capabilities.setsPotential {
            throw .badRequest(
                "\(file): the protocol has \(step.kind.rawValue) steps, but rig '\(rig.id)' has a galvanostat whose "
                    + "driver cannot set a potential (\(rig.galvanostat.driverName))")
        }
        do {
            let compliance = rig.limits.voltage_V
            try TestProtocol.checkPotentials(
                testProtocol.steps, within: -compliance...compliance,
                limitName: "rig '\(rig.id)''s voltage limit (limits.voltage in its rig file)")
        } catch {
            throw .badRequest(error.description(file: file))
        }
        try checkConditioning(engine.plan, protocol: testProtocol, cell: cell, capabilities: capabilities, file: file)
        var blindCriteria: [(criterion: String, reason: String)] = []
        for declaration in testProtocol.stopCriteria {
            let missing = (declaration.spec?.needs ?? []).filter { !capabilities.measures.contains($0) }
            guard let quantity = missing.first else { continue }
            if declaration.isOptional {
                blindCriteria.append(
                    (
                        declaration.name,
                        "optional criterion '\(declaration.name)' judges nothing in this run: rig '\(rig.id)' does not "
                            + "measure the \(quantity.rawValue) (\(measuredDescription(capabilities)))"
                    ))
                continue
            }
            throw .badRequest(
                "\(file): stop criterion '\(declaration.name)' needs the \(quantity.rawValue), which rig '\(rig.id)' "
                    + "does not measure (\(measuredDescription(capabilities))); add a sensor to the rig file, remove "
                    + "the criterion, or mark it `optional: true` to run without it")
        }
        return ValidatedStart(testProtocol: testProtocol, cell: cell, engine: engine, blindCriteria: blindCriteria)
    }

    /// `set_temperature` needs a temperature controller and a setpoint within the rig's `max_setpoint` and 10 C below
    /// the metal's melting point (the `temperature` guard's default); a wait needs what it waits for measured.
    private func checkConditioning(
        _ plan: StepPlan, protocol testProtocol: TestProtocol, cell: CellDescription, capabilities: RigCapabilities,
        file: String
    ) throws(ControlFailure) {
        func place(_ step: PlannedStep) -> String { "step \(step.index) (\(step.kind.rawValue))" }
        for step in plan.steps {
            if let setpoint = step.temperatureSetpoint_C {
                guard capabilities.controlsTemperature, let maximumSetpoint_C = rig.maximumTemperatureSetpoint_C else {
                    throw .badRequest(
                        "\(file): \(place(step)) sets the temperature, but rig '\(rig.id)' has no temperature "
                            + "controller (temperature_controller: in its rig file)")
                }
                guard setpoint <= maximumSetpoint_C else {
                    throw .badRequest(
                        "\(file): \(place(step)) asks for \(formatNumber(setpoint)) C, above rig '\(rig.id)''s "
                            + "max_setpoint of \(formatNumber(maximumSetpoint_C)) C")
                }
                let limit = cell.metal.meltingPoint_C - 10
                guard setpoint <= limit else {
                    throw .badRequest(
                        "\(file): \(place(step)) asks for \(formatNumber(setpoint)) C; the cell's \(cell.metal.rawValue) "
                            + "melts at \(formatNumber(cell.metal.meltingPoint_C)) C, so at most "
                            + "\(formatNumber(limit)) C is allowed")
                }
            }
            for condition in step.wait?.conditions ?? []
            where !capabilities.measures.contains(condition.quantity.measured) {
                throw .badRequest(
                    "\(file): \(place(step)) waits for the \(condition.quantity.measured.rawValue), which rig "
                        + "'\(rig.id)' does not measure (\(measuredDescription(capabilities)))")
            }
        }
    }

    private func measuredDescription(_ capabilities: RigCapabilities) -> String {
        let names = MeasuredQuantity.allCases.filter(capabilities.measures.contains).map(\.rawValue)
        return names.isEmpty ? "it measures current and voltage only" : "it measures \(names.joined(separator: ", "))"
    }
}
