import Domain

/// A parsed MethodSCRIPT script: the subset a battery rig uses, as the simulator understands it.
struct MethodScriptProgram: Sendable {
    struct Statement: Sendable {
        /// 1-based line number within the script (the line after `e` is line 1).
        var line: Int
        var kind: Kind
    }

    enum Kind: Sendable {
        case setting(command: String, arguments: [Double])
        case cellOn
        case cellOff
        case timerStart
        case timerGet(String)
        case packageStart
        case packageAdd(String)
        case packageEnd
        case sendString(String)
        case chronopotentiometry(
            potential: String, current: String, current_A: Double, interval_s: Double, duration_s: Double,
            body: [Statement])
        case openCircuitPotential(potential: String, interval_s: Double, duration_s: Double, body: [Statement])
        /// `meas_loop_ca` (one corner), `meas_loop_lsv` (two) or `meas_loop_cv` (begin, two vertices, begin;
        /// `nscans(n)` cycles): one point per interval, the potential following the corners at `rate_V_s`.
        case potentiostatic(
            potential: String, current: String, program: PotentialProgram, interval_s: Double, duration_s: Double,
            technique: String, body: [Statement])
        /// `meas_loop_eis` (potentiostatic) or `meas_loop_geis` (galvanostatic): one iteration per frequency,
        /// log-spaced from the start to the end frequency.
        case impedance(
            galvanostatic: Bool, frequency: String, real: String, imaginary: String, amplitude: Double,
            startFrequency_Hz: Double, endFrequency_Hz: Double, points: Int, dcLevel: Double, body: [Statement])
        case condition(variable: String, comparison: String, threshold: Double, body: [Statement])
        /// A generic `loop <var> <op> <literal>` ... `endloop`, repeated while the comparison holds.
        case loop(variable: String, comparison: String, threshold: Double, body: [Statement])
        /// `meas <t_int> <var> <type>`: one reading of a variable type (`ab`, `ag`, `ba`) over the integration time.
        case measure(integration_s: Double, variable: String, type: String)
        case breakLoop
    }

    /// A script the instrument refuses, with the error code and position it reports.
    struct SyntaxError: Error, Sendable {
        var code: Int
        var line: Int
        var column: Int
    }

    var main: [Statement]
    var finished: [Statement]

    static let settingCommands: Set<String> = [
        "set_pgstat_chan", "set_pgstat_mode", "set_max_bandwidth", "set_acquisition_frac_autoadjust", "set_range",
        "set_range_minmax", "set_autoranging", "set_e", "set_i",
    ]

    /// Parses and validates `lines` (the script without the leading `e` and the terminating empty line).
    init(lines: [String]) throws(SyntaxError) {
        var parser = Parser(lines: lines)
        main = try parser.block(until: ["on_finished:"], insideMeasurementLoop: false)
        if parser.index < lines.count {
            parser.index += 1
            finished = try parser.block(until: [], insideMeasurementLoop: false)
        } else {
            finished = []
        }
    }

    private struct Parser {
        let lines: [String]
        var index = 0
        var declared: Set<String> = []

        init(lines: [String]) {
            self.lines = lines
        }

        mutating func block(until terminators: Set<String>, insideMeasurementLoop: Bool) throws(SyntaxError)
            -> [Statement]
        {
            var statements: [Statement] = []
            while index < lines.count {
                let lineNumber = index + 1
                let text = lines[index].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard let command = tokens.first else {
                    index += 1
                    continue
                }
                if terminators.contains(command) { return statements }
                index += 1
                let arguments = Array(tokens.dropFirst())
                func literal(_ position: Int) throws(SyntaxError) -> Double {
                    guard position < arguments.count else {
                        throw SyntaxError(code: 0x4018, line: lineNumber, column: 1)
                    }
                    guard let value = Self.literalValue(arguments[position]) else {
                        throw SyntaxError(code: 0x4004, line: lineNumber, column: column(of: position, in: text))
                    }
                    return value
                }
                func variable(_ position: Int) throws(SyntaxError) -> String {
                    guard position < arguments.count else {
                        throw SyntaxError(code: 0x4018, line: lineNumber, column: 1)
                    }
                    guard declared.contains(arguments[position]) else {
                        throw SyntaxError(code: 0x420B, line: lineNumber, column: column(of: position, in: text))
                    }
                    return arguments[position]
                }
                /// `<var> <op> <literal>`, then the block up to and including its closing line.
                func comparisonBlock(closedBy closing: String) throws(SyntaxError) -> (String, Double, [Statement]) {
                    let name = try variable(0)
                    guard arguments.count == 3, [">", "<", ">=", "<="].contains(arguments[1]) else {
                        throw SyntaxError(code: 0x4004, line: lineNumber, column: column(of: 1, in: text))
                    }
                    let threshold = try literal(2)
                    let body = try block(until: [closing], insideMeasurementLoop: insideMeasurementLoop)
                    guard index < lines.count else { throw SyntaxError(code: 0x4018, line: lineNumber, column: 1) }
                    index += 1
                    return (name, threshold, body)
                }
                let kind: Kind
                switch command {
                case "var":
                    guard arguments.count == 1, let name = arguments.first,
                        name.allSatisfy({ $0.isLowercase || $0 == "_" || $0.isNumber })
                    else { throw SyntaxError(code: 0x4004, line: lineNumber, column: 5) }
                    guard !declared.contains(name) else { throw SyntaxError(code: 0x4026, line: lineNumber, column: 5) }
                    declared.insert(name)
                    continue
                case _ where MethodScriptProgram.settingCommands.contains(command):
                    var values: [Double] = []
                    for position in arguments.indices
                    where !(position == 0 && arguments[0].count == 2 && arguments[0].allSatisfy(\.isLetter)) {
                        values.append(try literal(position))
                    }
                    kind = .setting(command: command, arguments: values)
                case "cell_on": kind = .cellOn
                case "cell_off": kind = .cellOff
                case "timer_start": kind = .timerStart
                case "timer_get": kind = .timerGet(try variable(0))
                case "pck_start": kind = .packageStart
                case "pck_add": kind = .packageAdd(try variable(0))
                case "pck_end": kind = .packageEnd
                case "breakloop": kind = .breakLoop
                case "send_string":
                    guard let open = text.firstIndex(of: "\""), let close = text.lastIndex(of: "\""), open < close
                    else {
                        throw SyntaxError(code: 0x4004, line: lineNumber, column: 13)
                    }
                    kind = .sendString(String(text[text.index(after: open)..<close]))
                case "meas_loop_cp", "meas_loop_ocp":
                    if insideMeasurementLoop { throw SyntaxError(code: 0x400B, line: lineNumber, column: 1) }
                    if command == "meas_loop_cp" {
                        let potential = try variable(0)
                        let current = try variable(1)
                        let current_A = try literal(2)
                        let interval = try literal(3)
                        let duration = try literal(4)
                        let body = try loopBody(opening: lineNumber)
                        kind = .chronopotentiometry(
                            potential: potential, current: current, current_A: current_A, interval_s: interval,
                            duration_s: duration, body: body)
                    } else {
                        let potential = try variable(0)
                        let interval = try literal(1)
                        let duration = try literal(2)
                        let body = try loopBody(opening: lineNumber)
                        kind = .openCircuitPotential(
                            potential: potential, interval_s: interval, duration_s: duration, body: body)
                    }
                case "meas_loop_ca", "meas_loop_lsv", "meas_loop_cv":
                    if insideMeasurementLoop { throw SyntaxError(code: 0x400B, line: lineNumber, column: 1) }
                    let potential = try variable(0)
                    let current = try variable(1)
                    let program: PotentialProgram
                    let interval: Double
                    let duration: Double
                    let technique: String
                    if command == "meas_loop_ca" {
                        program = .hold(try literal(2), versus: .reference)
                        interval = try literal(3)
                        duration = try literal(4)
                        technique = "0007"
                    } else {
                        let isCV = command == "meas_loop_cv"
                        let corners =
                            isCV ? [try literal(2), try literal(3), try literal(4)] : [try literal(2), try literal(3)]
                        let step = try literal(corners.count + 2)
                        let rate = try literal(corners.count + 3)
                        var scans = 1
                        if isCV, arguments.count > 7 {
                            let option = arguments[7]
                            guard option.hasPrefix("nscans("), option.hasSuffix(")"),
                                let count = Int(option.dropFirst(7).dropLast()), count >= 1
                            else { throw SyntaxError(code: 0x4004, line: lineNumber, column: column(of: 7, in: text)) }
                            scans = count
                        }
                        guard step > 0, rate > 0 else {
                            throw SyntaxError(
                                code: 0x4205, line: lineNumber, column: column(of: corners.count + 2, in: text))
                        }
                        program = PotentialProgram(
                            versus: .reference, corners_V: isCV ? corners + [corners[0]] : corners, rate_V_s: rate,
                            cycles: scans)
                        interval = step / rate
                        duration = program.duration_s ?? 0
                        technique = isCV ? "0005" : "0000"
                    }
                    let body = try loopBody(opening: lineNumber)
                    kind = .potentiostatic(
                        potential: potential, current: current, program: program, interval_s: interval,
                        duration_s: duration, technique: technique, body: body)
                case "meas_loop_eis", "meas_loop_geis":
                    if insideMeasurementLoop { throw SyntaxError(code: 0x400B, line: lineNumber, column: 1) }
                    let frequency = try variable(0)
                    let real = try variable(1)
                    let imaginary = try variable(2)
                    let amplitude = try literal(3)
                    let start = try literal(4)
                    let end = try literal(5)
                    let points = try literal(6)
                    let dcLevel = try literal(7)
                    guard start > 0, end > 0, points >= 1, points == points.rounded(), amplitude > 0 else {
                        throw SyntaxError(code: 0x4205, line: lineNumber, column: column(of: 4, in: text))
                    }
                    let body = try loopBody(opening: lineNumber)
                    kind = .impedance(
                        galvanostatic: command == "meas_loop_geis", frequency: frequency, real: real,
                        imaginary: imaginary, amplitude: amplitude, startFrequency_Hz: start, endFrequency_Hz: end,
                        points: Int(points), dcLevel: dcLevel, body: body)
                case "loop":
                    let (name, threshold, body) = try comparisonBlock(closedBy: "endloop")
                    kind = .loop(variable: name, comparison: arguments[1], threshold: threshold, body: body)
                case "meas":
                    let integration = try literal(0)
                    let name = try variable(1)
                    guard arguments.count == 3, arguments[2].count == 2, arguments[2].allSatisfy(\.isLowercase) else {
                        throw SyntaxError(code: 0x4004, line: lineNumber, column: column(of: 2, in: text))
                    }
                    kind = .measure(integration_s: integration, variable: name, type: arguments[2])
                case "if":
                    let (name, threshold, body) = try comparisonBlock(closedBy: "endif")
                    kind = .condition(variable: name, comparison: arguments[1], threshold: threshold, body: body)
                default:
                    throw SyntaxError(code: 0x4001, line: lineNumber, column: 1)
                }
                statements.append(Statement(line: lineNumber, kind: kind))
            }
            return statements
        }

        private mutating func loopBody(opening: Int) throws(SyntaxError) -> [Statement] {
            let body = try block(until: ["endloop"], insideMeasurementLoop: true)
            guard index < lines.count else { throw SyntaxError(code: 0x4018, line: opening, column: 1) }
            index += 1
            return body
        }

        private func column(of argument: Int, in text: Substring) -> Int {
            var column = 1
            var seen = -1
            var inToken = false
            for character in text {
                let isSpace = character == " " || character == "\t"
                if !isSpace, !inToken {
                    inToken = true
                    if seen == argument { return column }
                    seen += 1
                } else if isSpace {
                    inToken = false
                }
                column += 1
            }
            return column
        }

        /// `[-]digits[prefix]`, the integer suffix `i`, or `0x` hex; never a decimal point.
        static func literalValue(_ text: String) -> Double? {
            var body = Substring(text)
            var sign = 1.0
            if body.first == "-" {
                sign = -1
                body = body.dropFirst()
            }
            if body.hasPrefix("0x") { return Int(body.dropFirst(2), radix: 16).map { sign * Double($0) } }
            let factors: [Character: Double] = [
                "a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9,
                "T": 1e12, "P": 1e15, "E": 1e18, "i": 1,
            ]
            var factor = 1.0
            if let last = body.last, let prefixFactor = factors[last] {
                factor = prefixFactor
                body = body.dropLast()
            }
            guard !body.isEmpty, body.allSatisfy(\.isASCII), body.allSatisfy(\.isNumber), let digits = Int(body) else {
                return nil
            }
            return sign * Double(digits) * factor
        }
    }
}
