import Domain

/// Reads test-protocol files (`protocols/*.yaml`, schema 1) into ``TestProtocol`` values.
///
/// Every value that carries a unit is parsed strictly (`0.5 mA/cm2`, `10 s`, `2 mV`), unknown keys are errors,
/// and every error names the file, line, column, key, the bad value and what is allowed.
public enum ProtocolFile {
    public static let supportedSchema = 1

    static let topLevelKeys = [
        "schema", "name", "description", "reference", "parameters", "three_electrode", "sampling_interval",
        "conditions", "steps", "stop", "on_instrument_loss", "on_restart", "then", "rig",
    ]
    static let stepNames = [
        "rest", "plate", "strip", "galvanostatic", "impedance", "loop", "potentiostatic", "sweep", "set_temperature",
        "wait",
    ]
    static let impedanceKeys = [
        "control", "from", "to", "points_per_decade", "amplitude", "circuit", "interface", "weighting",
    ]
    /// Frequencies an impedance step may sweep (the instrument may allow less; its driver says so).
    static let frequencyRange: ClosedRange<Double> = 1e-5...1e7
    static let galvanostaticKeys = ["current", "current_density", "capacity", "duration", "voltage_limit"]
    static let loopKeys = ["cycles", "current", "plating_current", "stripping_current", "steps"]
    static let scheduleKeys = ["start", "values", "increment", "maximum"]

    /// Largest time a single step may be given (a year): catches unit slips such as `10 d` for `10 s`.
    static let timeRange: ClosedRange<Double> = 1e-3...(366 * 86400)
    static let currentRange: ClosedRange<Double> = -10...10
    static let densityRange: ClosedRange<Double> = -1000...1000

    /// Parses protocol text; `file` is used in error messages only.
    ///
    /// `parameters` gives values for the protocol's `parameters:` section (name to text with unit, e.g.
    /// `current_density` to `3 mA/cm2`); names the protocol does not declare are an error.
    public static func parse(_ text: String, file: String, parameters: [String: String] = [:]) throws(FileError)
        -> TestProtocol
    {
        var root = try parseRoot(text, file: file)
        let resolved = try resolveParameters(root, overrides: parameters)
        root.parameters = resolved
        let top = try root.mapping(allowedKeys: topLevelKeys)
        let schema = try top.required("schema").integer(range: 1...1000)
        guard schema == supportedSchema else {
            throw top.optional("schema")!.error(
                "schema \(schema) is not supported by this cellrig", value: String(schema),
                allowed: String(supportedSchema))
        }
        let name = try top.required("name").string()
        let summary = try top.optional("description")?.string()
        let reference = try top.optional("reference")?.string()
        let threeElectrode = try top.optional("three_electrode")?.boolean() ?? false
        let interval = try top.optional("sampling_interval")?.quantity(.time, range: 1e-3...3600) ?? 1
        var conditions = TestConditions()
        if let node = top.optional("conditions") {
            let reader = try node.mapping(allowedKeys: ["stack_pressure", "temperature"])
            conditions.stackPressure_MPa = try reader.optional("stack_pressure")?.quantity(.pressure, range: 0...1000)
            conditions.temperature_C = try reader.optional("temperature")?.quantity(.temperature, range: -100...500)
        }
        let stepsNode = try top.required("steps")
        let stepNodes = try stepsNode.list()
        guard !stepNodes.isEmpty else { throw stepsNode.error("a protocol needs at least one step") }
        var steps: [ProtocolStep] = []
        for node in stepNodes { steps.append(try step(node, insideLoop: false, threeElectrode: threeElectrode)) }
        do {
            _ = try StepPlan.stepCount(of: steps)
        } catch {
            throw FileError(error, file: file, otherwise: stepsNode)
        }
        var criteria: [CriterionDeclaration] = []
        if let stopNode = top.optional("stop") {
            for node in try stopNode.list() { criteria.append(try criterion(node)) }
        }
        try checkPotentials(steps, against: criteria, file: file)
        try checkJudgedSteps(steps, criteria: criteria, file: file)
        let rig = try top.optional("rig")?.string()
        var onInstrumentLoss = InstrumentLossPolicy.fault
        if let node = top.optional("on_instrument_loss") {
            let text = try node.string()
            guard let policy = InstrumentLossPolicy(rawValue: text) else {
                throw node.error(
                    "unknown instrument-loss policy", value: text,
                    allowed: InstrumentLossPolicy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            onInstrumentLoss = policy
        }
        var onRestart = RestartPolicy.resume
        if let node = top.optional("on_restart") {
            let text = try node.string()
            guard let policy = RestartPolicy(rawValue: text) else {
                throw node.error(
                    "unknown restart policy", value: text,
                    allowed: RestartPolicy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            onRestart = policy
        }
        let then = try queuePolicy(top.optional("then")) ?? .hold
        var testProtocol = TestProtocol(
            schema: schema, name: name, summary: summary, reference: reference, parameters: resolved,
            threeElectrode: threeElectrode, samplingInterval_s: interval, conditions: conditions, steps: steps,
            stopCriteria: criteria, onInstrumentLoss: onInstrumentLoss, onRestart: onRestart,
            then: then)
        testProtocol.intendedRig = rig
        return testProtocol
    }

    /// A `then:` value (what the rig's queue does after the run), or nil when the key is absent.
    static func queuePolicy(_ node: LocatedNode?) throws(FileError) -> QueuePolicy? {
        guard let node else { return nil }
        let text = try node.string()
        guard let policy = QueuePolicy(rawValue: text) else {
            throw node.error(
                "unknown queue policy", value: text,
                allowed: QueuePolicy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return policy
    }

    /// The declared parameters with their defaults, replaced by the caller's values.
    private static func resolveParameters(_ root: LocatedNode, overrides: [String: String]) throws(FileError)
        -> [String: String]
    {
        var values: [String: String] = [:]
        var declaration = root
        if root.isMapping, let node = try root.mapping(allowedKeys: topLevelKeys).optional("parameters") {
            declaration = node
            let names = try node.keys()
            let reader = try node.mapping(allowedKeys: names)
            for name in names {
                let value = try reader.required(name)
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw value.error("'\(name)' is not a parameter name", allowed: "letters, digits and '_'")
                }
                values[name] = try value.scalarText(expecting: "a default value with a unit")
            }
        }
        for (name, value) in overrides {
            guard values[name] != nil else {
                let known = values.keys.sorted()
                throw FileError(
                    file: root.file, line: declaration.line, column: declaration.column, key: "parameters", value: name,
                    problem: "the protocol has no parameter '\(name)'",
                    allowed: known.isEmpty
                        ? "none: this protocol declares no parameters" : known.joined(separator: ", "))
            }
            values[name] = value
        }
        return values
    }

    static func step(_ node: LocatedNode, insideLoop: Bool, threeElectrode: Bool) throws(FileError) -> ProtocolStep {
        let (name, body) = try node.singleKeyEntry(allowed: stepNames, what: "step")
        guard let body else { throw node.error("step '\(name)' needs its settings, e.g. `\(name): {...}`") }
        // The step's position is where its name is written: `- loop:` is line and column of `loop`.
        let position = SourcePosition(line: node.node.line, column: node.node.column, key: body.path)
        switch name {
        case "rest":
            return .rest(try rest(body, position: position))
        case "potentiostatic":
            var step = try potentiostatic(body, threeElectrode: threeElectrode)
            step.position = position
            return .potentiostatic(step)
        case "sweep":
            var step = try sweep(body, threeElectrode: threeElectrode)
            step.position = position
            return .sweep(step)
        case "impedance":
            var step = try impedance(body)
            step.position = position
            return .impedance(step)
        case "set_temperature":
            return .setTemperature(try setTemperature(body, position: position))
        case "wait":
            return .wait(WaitStep(rule: try waitRule(body), position: position))
        case "loop":
            guard !insideLoop else { throw node.error("a loop cannot contain another loop") }
            var step = try loop(body, threeElectrode: threeElectrode)
            step.position = position
            return .loop(step)
        default:
            let role = GalvanostaticRole(rawValue: name)!
            var step = try galvanostatic(body, role: role, insideLoop: insideLoop)
            step.position = position
            return .galvanostatic(step)
        }
    }

    private static func galvanostatic(
        _ node: LocatedNode, role: GalvanostaticRole, insideLoop: Bool
    ) throws(FileError) -> GalvanostaticStep {
        let reader = try node.mapping(allowedKeys: galvanostaticKeys)
        var step = GalvanostaticStep(role: role)
        if reader.has("current"), reader.has("current_density") {
            throw node.error("give either `current` or `current_density`, not both")
        }
        if let current = reader.optional("current") {
            step.current = .current_A(try current.quantity(.current, range: currentRange))
        } else if let density = reader.optional("current_density") {
            step.current = .density_mA_cm2(try density.quantity(.currentDensity, range: densityRange))
        } else if !insideLoop {
            throw node.error(
                "missing `current_density` or `current` (only steps inside a loop may take theirs from a schedule)")
        }
        if role != .signed, let current = step.current, current.isNegative {
            throw node.error(
                "a `\(role.rawValue)` step takes a positive current; the direction comes from the step name",
                allowed: "a positive value, or a `galvanostatic` step with a signed current")
        }
        if let capacity = reader.optional("capacity") {
            let quantity = try capacity.quantity(oneOf: [.arealCapacity, .charge], range: 1e-9...1e6)
            step.capacity =
                quantity.dimension == .arealCapacity ? .areal_mAh_cm2(quantity.value) : .absolute_mAh(quantity.value)
        }
        step.duration_s = try reader.optional("duration")?.quantity(.time, range: timeRange)
        step.voltageLimit_V = try reader.optional("voltage_limit")?.quantity(.voltage, range: 1e-6...20)
        if step.capacity == nil, step.duration_s == nil, step.voltageLimit_V == nil {
            throw node.error(
                "the step has no end", allowed: "at least one of `capacity`, `duration`, `voltage_limit`")
        }
        return step
    }

    private static func impedance(_ node: LocatedNode) throws(FileError) -> ImpedanceStep {
        let reader = try node.mapping(allowedKeys: impedanceKeys)
        let controlNode = try reader.required("control")
        let controlText = try controlNode.string()
        guard let control = ImpedanceControl(rawValue: controlText) else {
            throw controlNode.error(
                "unknown impedance control", value: controlText,
                allowed: ImpedanceControl.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let start = try reader.required("from").quantity(.frequency, range: frequencyRange)
        let end = try reader.required("to").quantity(.frequency, range: frequencyRange)
        guard start != end else { throw node.error("`from` and `to` must differ") }
        let pointsPerDecade = try reader.required("points_per_decade").integer(range: 1...100)
        let amplitudeNode = try reader.required("amplitude")
        let amplitude: ImpedanceAmplitude
        switch control {
        case .potentiostatic:
            amplitude = .voltage_V(try amplitudeNode.quantity(.voltage, range: 1e-4...1))
        case .galvanostatic:
            let quantity = try amplitudeNode.quantity(oneOf: [.current, .currentDensity], range: 1e-12...1000)
            amplitude = .current(
                quantity.dimension == .current ? .current_A(quantity.value) : .density_mA_cm2(quantity.value))
        }
        return ImpedanceStep(
            control: control, startFrequency_Hz: start, endFrequency_Hz: end, pointsPerDecade: pointsPerDecade,
            amplitude: amplitude, fit: try impedanceFit(reader, step: node))
    }

    /// The optional `circuit:`, `interface:` and `weighting:` keys of an impedance step.
    private static func impedanceFit(_ reader: MappingReader, step: LocatedNode) throws(FileError)
        -> ImpedanceFitSpecification?
    {
        guard let circuitNode = reader.optional("circuit") else {
            for key in ["interface", "weighting"] where reader.has(key) {
                throw reader.optional(key)!.error("`\(key)` needs a `circuit` to fit")
            }
            return nil
        }
        let text = try circuitNode.string()
        let circuit: EquivalentCircuit
        do {
            circuit = try EquivalentCircuit(parsing: text)
        } catch {
            var located = circuitNode.error(error.problem, value: text, allowed: CircuitSyntaxError.allowed)
            located.column = circuitNode.column.map { $0 + error.position - 1 }
            throw located
        }
        var specification = ImpedanceFitSpecification(circuit: circuit)
        if let interfaceNode = reader.optional("interface") {
            let resistors = circuit.elements.filter { $0.kind == .resistor }.map(\.name)
            specification.interfaceElement = try interfaceNode.word(allowed: resistors)
        }
        if let weightingNode = reader.optional("weighting") {
            let word = try weightingNode.word(allowed: FitWeighting.allCases.map(\.rawValue))
            specification.weighting = FitWeighting(rawValue: word)!
        }
        return specification
    }

    private static func criterion(_ node: LocatedNode) throws(FileError) -> CriterionDeclaration {
        let names = CriterionCatalogue.all.map(\.name)
        let (name, body) = try node.singleKeyEntry(allowed: names, what: "stop criterion")
        let spec = CriterionCatalogue.spec(named: name)!
        var declaration = CriterionDeclaration(
            name: name,
            position: SourcePosition(line: node.node.line, column: node.node.column, key: join(node.path, name)))
        guard let body else { return declaration }
        // `optional` is allowed where it means something: on criteria that need a measurement the rig may lack.
        let generalKeys = spec.needs.isEmpty ? [] : ["optional"]
        let reader = try body.mapping(allowedKeys: spec.parameters.map(\.name) + generalKeys)
        if let optionalNode = reader.optional("optional") {
            declaration.isOptional = try optionalNode.word(allowed: ["true", "false"]) == "true"
        }
        for parameter in spec.parameters {
            guard let valueNode = reader.optional(parameter.name) else { continue }
            switch parameter.kind {
            case .quantity(let dimension, let range):
                let value = try valueNode.quantity(dimension, range: range)
                declaration.parameters[parameter.name] = .quantity(Quantity(value, dimension))
            case .word(let words):
                declaration.parameters[parameter.name] = .word(try valueNode.word(allowed: words))
            }
        }
        return declaration
    }
}

extension FileError {
    /// A plan's error about a protocol read from `file`, at the declaration it names, else at `node`.
    init(_ error: PlanError, file: String, otherwise node: LocatedNode) {
        let position = error.position ?? node.position
        self.init(file: file, line: position.line, column: position.column, key: position.key, problem: error.message)
    }
}

extension CurrentSetting {
    var isNegative: Bool { signedValue < 0 }

    var zero: CurrentSetting {
        switch self {
        case .current_A: .current_A(0)
        case .density_mA_cm2: .density_mA_cm2(0)
        }
    }
}
