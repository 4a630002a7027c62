import Domain

/// Reads test-protocol files (`protocols/*.yaml`, schema 1) into ``TestProtocol`` values.
///
/// Every value that carries a unit is parsed strictly (`0.5 mA/cm2`, `10 s`, `2 mV`), unknown keys are errors,
/// and every error names the file, line, column, key, the bad value and what is allowed.
public enum ProtocolFile {
    public static let supportedSchema = 1

    static let topLevelKeys = [
        "schema", "name", "description", "reference", "parameters", "three_electrode", "sampling_interval",
        "conditions", "steps", "stop", "on_instrument_loss", "on_restart",
    ]
    static let stepNames = ["rest", "plate", "strip", "galvanostatic", "impedance", "loop"]
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
        for node in stepNodes { steps.append(try step(node, insideLoop: false)) }
        var criteria: [CriterionDeclaration] = []
        if let stopNode = top.optional("stop") {
            for node in try stopNode.list() { criteria.append(try criterion(node)) }
        }
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
        return TestProtocol(
            schema: schema, name: name, summary: summary, reference: reference, parameters: resolved,
            threeElectrode: threeElectrode, samplingInterval_s: interval, conditions: conditions, steps: steps,
            stopCriteria: criteria, onInstrumentLoss: onInstrumentLoss, onRestart: onRestart)
    }

    /// The declared parameters with their defaults, replaced by the caller's values.
    private static func resolveParameters(_ root: LocatedNode, overrides: [String: String]) throws(FileError)
        -> [String: String]
    {
        var values: [String: String] = [:]
        if root.isMapping, let node = try root.mapping(allowedKeys: topLevelKeys).optional("parameters") {
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
                    file: root.file, key: "parameters", value: name,
                    problem: "the protocol has no parameter '\(name)'",
                    allowed: known.isEmpty
                        ? "none: this protocol declares no parameters" : known.joined(separator: ", "))
            }
            values[name] = value
        }
        return values
    }

    private static func step(_ node: LocatedNode, insideLoop: Bool) throws(FileError) -> ProtocolStep {
        let (name, body) = try node.singleKeyEntry(allowed: stepNames, what: "step")
        guard let body else { throw node.error("step '\(name)' needs its settings, e.g. `\(name): {...}`") }
        switch name {
        case "rest":
            let reader = try body.mapping(allowedKeys: ["duration"])
            return .rest(RestStep(duration_s: try reader.required("duration").quantity(.time, range: timeRange)))
        case "impedance":
            return .impedance(try impedance(body))
        case "loop":
            guard !insideLoop else { throw node.error("a loop cannot contain another loop") }
            return .loop(try loop(body))
        default:
            let role = GalvanostaticRole(rawValue: name)!
            return .galvanostatic(try galvanostatic(body, role: role, insideLoop: insideLoop))
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

    private static func loop(_ node: LocatedNode) throws(FileError) -> LoopStep {
        let reader = try node.mapping(allowedKeys: loopKeys)
        var loop = LoopStep(steps: [])
        loop.cycles = try reader.optional("cycles")?.integer(range: 1...100_000)
        loop.current = try reader.optional("current").map { node throws(FileError) in try schedule(node) }
        loop.platingCurrent = try reader.optional("plating_current").map { node throws(FileError) in try schedule(node)
        }
        loop.strippingCurrent = try reader.optional("stripping_current").map { node throws(FileError) in
            try schedule(node)
        }
        let stepsNode = try reader.required("steps")
        for child in try stepsNode.list() { loop.steps.append(try step(child, insideLoop: true)) }
        guard !loop.steps.isEmpty else { throw stepsNode.error("a loop needs at least one step") }
        for role in loop.usedRoles where loop.schedule(for: role) == nil {
            let key = role == .plate ? "plating_current" : role == .strip ? "stripping_current" : "current"
            throw node.error(
                "a `\(role.rawValue)` step has no current and the loop has no `\(key)` or `current` schedule")
        }
        if loop.effectiveCycleCount == nil {
            throw node.error(
                "the loop has no end", allowed: "`cycles: N`, or a `maximum` on every schedule with an `increment`")
        }
        return loop
    }

    /// A schedule is either one value (the same every cycle) or `{start|values, increment, maximum}`.
    private static func schedule(_ node: LocatedNode) throws(FileError) -> CurrentSchedule {
        let dimensions: [Dimension] = [.currentDensity, .current]
        if node.isScalar {
            let value = try setting(node.quantity(oneOf: dimensions))
            return CurrentSchedule(values: [value], increment: value.zero)
        }
        let reader = try node.mapping(allowedKeys: scheduleKeys)
        var entries: [(node: LocatedNode, quantity: Quantity)] = []
        if reader.has("start"), reader.has("values") { throw node.error("give either `start` or `values`, not both") }
        if let start = reader.optional("start") {
            entries.append((start, try start.quantity(oneOf: dimensions)))
        } else if let list = reader.optional("values") {
            for item in try list.list() { entries.append((item, try item.quantity(oneOf: dimensions))) }
            if entries.isEmpty { throw list.error("`values` needs at least one value") }
        } else {
            throw node.error("missing `start` or `values`")
        }
        let values = entries.map(\.quantity)
        let incrementNode = reader.optional("increment")
        let maximumNode = reader.optional("maximum")
        let increment = try incrementNode?.quantity(oneOf: dimensions)
        let maximum = try maximumNode?.quantity(oneOf: dimensions)
        if let incrementNode, let increment { entries.append((incrementNode, increment)) }
        if let maximumNode, let maximum { entries.append((maximumNode, maximum)) }
        let first = entries[0].quantity
        if let mismatch = entries.first(where: { $0.quantity.dimension != first.dimension }) {
            throw mismatch.node.error(
                "this is \(mismatch.quantity.dimension.phrase) but the schedule starts with "
                    + "\(first.dimension.phrase) (\(first))",
                value: try? mismatch.node.scalarText(expecting: "a value"),
                allowed: "units of \(first.dimension.phrase): \(first.dimension.acceptedUnits.joined(separator: ", "))")
        }
        if maximum != nil, increment == nil {
            throw reader.optional("maximum")!.error("`maximum` needs an `increment`")
        }
        if let increment, increment.value == 0 {
            throw reader.optional("increment")!.error("`increment` must not be zero", value: increment.description)
        }
        if let maximum, let last = values.last, abs(maximum.value) < abs(last.value) {
            throw reader.optional("maximum")!.error(
                "`maximum` (\(maximum)) is below the last listed value (\(last))", value: maximum.description)
        }
        return CurrentSchedule(
            values: values.map(setting), increment: increment.map(setting), maximum: maximum.map(setting))
    }

    private static func setting(_ quantity: Quantity) -> CurrentSetting {
        quantity.dimension == .current ? .current_A(quantity.value) : .density_mA_cm2(quantity.value)
    }

    private static func criterion(_ node: LocatedNode) throws(FileError) -> CriterionDeclaration {
        let names = CriterionCatalogue.all.map(\.name)
        let (name, body) = try node.singleKeyEntry(allowed: names, what: "stop criterion")
        let spec = CriterionCatalogue.spec(named: name)!
        var declaration = CriterionDeclaration(name: name)
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

extension CurrentSetting {
    var isNegative: Bool {
        switch self {
        case .current_A(let value), .density_mA_cm2(let value): value < 0
        }
    }

    var zero: CurrentSetting {
        switch self {
        case .current_A: .current_A(0)
        case .density_mA_cm2: .density_mA_cm2(0)
        }
    }
}
