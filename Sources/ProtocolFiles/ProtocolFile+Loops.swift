import Domain

/// Loops and their current schedules. Every schedule is checked for an end it can reach, and every loop's number
/// of steps is computed (never counted) and refused beyond ``StepPlan/maximumStepCount`` at the key that makes it
/// too long, before anything is expanded.
extension ProtocolFile {
    static func loop(_ node: LocatedNode, threeElectrode: Bool) throws(FileError) -> LoopStep {
        let reader = try node.mapping(allowedKeys: loopKeys)
        var loop = LoopStep(steps: [])
        loop.cycles = try reader.optional("cycles")?.integer(range: 1...StepPlan.maximumStepCount)
        var scheduleNodes: [(node: LocatedNode, schedule: CurrentSchedule)] = []
        for key in ["current", "plating_current", "stripping_current"] {
            guard let scheduleNode = reader.optional(key) else { continue }
            let schedule = try schedule(scheduleNode)
            scheduleNodes.append((scheduleNode, schedule))
            switch key {
            case "current": loop.current = schedule
            case "plating_current": loop.platingCurrent = schedule
            default: loop.strippingCurrent = schedule
            }
        }
        let stepsNode = try reader.required("steps")
        for child in try stepsNode.list() {
            loop.steps.append(try step(child, insideLoop: true, threeElectrode: threeElectrode))
        }
        guard !loop.steps.isEmpty else { throw stepsNode.error("a loop needs at least one step") }
        for role in loop.usedRoles where loop.schedule(for: role) == nil {
            let key = role == .plate ? "plating_current" : role == .strip ? "stripping_current" : "current"
            throw node.error(
                "a `\(role.rawValue)` step has no current and the loop has no `\(key)` or `current` schedule")
        }
        guard let cycles = loop.effectiveCycleCount else {
            throw node.error(
                "the loop has no end", allowed: "`cycles: N`, or a `maximum` on every schedule with an `increment`")
        }
        try checkLength(of: loop, cycles: cycles, reader: reader, schedules: scheduleNodes)
        return loop
    }

    /// Refuses a loop that unrolls to more than ``StepPlan/maximumStepCount`` steps, at the key that bounds its
    /// cycles: `cycles`, or the `maximum` of the schedule that ends first.
    private static func checkLength(
        of loop: LoopStep, cycles: Int, reader: MappingReader,
        schedules: [(node: LocatedNode, schedule: CurrentSchedule)]
    ) throws(FileError) {
        let perCycle = loop.steps.count
        let (steps, overflow) = cycles.multipliedReportingOverflow(by: perCycle)
        guard overflow || steps > StepPlan.maximumStepCount else { return }
        let allowedCycles = StepPlan.maximumStepCount / perCycle
        let cyclesText = cycles == Int.max ? "more than 9e18" : String(cycles)
        let problem =
            "the loop runs \(cyclesText) cycles of \(perCycle) steps, more than the \(StepPlan.maximumStepCount) "
            + "steps a protocol may unroll to"
        if let cyclesNode = reader.optional("cycles"), loop.cycles == cycles {
            throw cyclesNode.error(
                problem, value: String(cycles),
                allowed: "at most \(allowedCycles) cycles for a loop of \(perCycle) steps")
        }
        guard let (node, schedule) = schedules.first(where: { $0.schedule.cycleCount == cycles }) else {
            throw reader.owner.error(problem, allowed: "at most \(allowedCycles) cycles")
        }
        let culprit = node.isMapping ? (try node.mapping(allowedKeys: scheduleKeys).optional("maximum") ?? node) : node
        var allowed = "a `maximum` the schedule reaches within \(allowedCycles) cycles"
        if let last = schedule.values.last, let increment = schedule.increment {
            let reachable = last.signedValue + Double(allowedCycles - schedule.values.count) * increment.signedValue
            let unit = last.isDensity ? "mA/cm2" : "A"
            allowed +=
                " (up to \(formatNumber(reachable)) \(unit) with this start and increment), or a larger `increment`"
        }
        throw culprit.error(problem, value: try? culprit.scalarText(expecting: "a value"), allowed: allowed)
    }

    /// A schedule is either one value (the same every cycle) or `{start|values, increment, maximum}`; its values
    /// must move away from zero, towards the maximum.
    static func schedule(_ node: LocatedNode) throws(FileError) -> CurrentSchedule {
        if node.isScalar {
            let value = setting(try node.current(currentRange: currentRange, densityRange: densityRange))
            return CurrentSchedule(values: [value], increment: value.zero, position: node.position)
        }
        let reader = try node.mapping(allowedKeys: scheduleKeys)
        var entries: [(node: LocatedNode, quantity: Quantity)] = []
        func read(_ node: LocatedNode) throws(FileError) {
            entries.append((node, try node.current(currentRange: currentRange, densityRange: densityRange)))
        }
        if reader.has("start"), reader.has("values") { throw node.error("give either `start` or `values`, not both") }
        if let start = reader.optional("start") {
            try read(start)
        } else if let list = reader.optional("values") {
            for item in try list.list() { try read(item) }
            if entries.isEmpty { throw list.error("`values` needs at least one value") }
        } else {
            throw node.error("missing `start` or `values`")
        }
        let values = entries.map(\.quantity)
        let incrementNode = reader.optional("increment")
        let maximumNode = reader.optional("maximum")
        if let incrementNode { try read(incrementNode) }
        let increment = incrementNode == nil ? nil : entries.last?.quantity
        if let maximumNode { try read(maximumNode) }
        let maximum = maximumNode == nil ? nil : entries.last?.quantity
        let first = entries[0].quantity
        if let mismatch = entries.first(where: { $0.quantity.dimension != first.dimension }) {
            throw mismatch.node.error(
                "this is \(mismatch.quantity.dimension.phrase) but the schedule starts with "
                    + "\(first.dimension.phrase) (\(first))",
                value: try? mismatch.node.scalarText(expecting: "a value"),
                allowed: "units of \(first.dimension.phrase): \(first.dimension.acceptedUnits.joined(separator: ", "))")
        }
        if let maximumNode, increment == nil { throw maximumNode.error("`maximum` needs an `increment`") }
        if let incrementNode, let increment, let last = values.last {
            try checkDirection(increment: increment, node: incrementNode, last: last)
        }
        if let maximumNode, let maximum, let increment, let last = values.last {
            try checkMaximum(maximum, node: maximumNode, increment: increment, last: last)
        }
        return CurrentSchedule(
            values: values.map(setting), increment: increment.map(setting), maximum: maximum.map(setting),
            position: node.position)
    }

    /// The increment must not be zero and must move the values away from zero (a schedule towards zero would plate
    /// at 0 mA/cm2, then at currents of the other sign).
    private static func checkDirection(increment: Quantity, node: LocatedNode, last: Quantity) throws(FileError) {
        let text = try node.scalarText(expecting: "a value")
        guard increment.value != 0 else {
            throw node.error(
                "`increment` must not be zero", value: text, allowed: "a value that moves the schedule away from zero")
        }
        if last.value != 0, (increment.value > 0) != (last.value > 0) {
            throw node.error(
                "`increment` (\(increment)) moves the schedule towards zero from \(last): each cycle must move "
                    + "further from zero, towards `maximum`",
                value: text, allowed: "a \(last.value > 0 ? "positive" : "negative") increment")
        }
    }

    /// The maximum must lie in the direction the schedule moves, beyond its listed values.
    private static func checkMaximum(
        _ maximum: Quantity, node: LocatedNode, increment: Quantity, last: Quantity
    ) throws(FileError) {
        let text = try node.scalarText(expecting: "a value")
        if maximum.value != 0, (maximum.value > 0) != (increment.value > 0) {
            throw node.error(
                "`maximum` (\(maximum)) lies on the other side of zero from a schedule that moves by \(increment) "
                    + "per cycle, so it is never reached",
                value: text, allowed: "a \(increment.value > 0 ? "positive" : "negative") maximum")
        }
        if abs(maximum.value) < abs(last.value) {
            throw node.error(
                "`maximum` (\(maximum)) is below the last listed value (\(last))", value: text,
                allowed: "at least \(last)")
        }
    }

    static func setting(_ quantity: Quantity) -> CurrentSetting {
        quantity.dimension == .current ? .current_A(quantity.value) : .density_mA_cm2(quantity.value)
    }
}

extension CurrentSetting {
    var isDensity: Bool {
        if case .density_mA_cm2 = self { return true }
        return false
    }
}
