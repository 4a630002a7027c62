import Domain
import ProtocolFiles
import Testing

@Suite("Rig files for serial instruments")
struct SerialRigFileTests {
    private func rig(_ instruments: String) -> String {
        """
        schema: 1
        id: bench-1
        cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2}
        limits: {voltage: 5 V, current: 20 mA}
        \(instruments)
        """
    }

    @Test("a MethodSCRIPT galvanostat by USB identity and a Modbus load cell with its register map and calibration")
    func methodScriptAndModbus() throws {
        let parsed = try RigFile.parse(
            rig(
                """
                galvanostat:
                  driver: methodscript
                  port: usb:2a03:0043:ES4-1234
                  baud: 230400
                  mains_frequency: 60 Hz
                  max_script_duration: 10 min
                pressure_sensor:
                  driver: modbus
                  port: /dev/ttyUSB1
                  station: 7
                  registers: input
                  register: 2
                  value_type: float32
                  byte_order: BADC
                  newtons_per_count: 9.80665
                  zero_command: {register: 16, value: 1}
                  capacity: 500 N
                  pellet_area: 0.5 cm2
                  calibration: {scale: 1.02, offset: -2 N}
                  reading_interval: 30 s
                """), file: "bench.yaml")
        guard case .methodScript(let galvanostat) = parsed.galvanostat else {
            Issue.record("expected a MethodSCRIPT galvanostat")
            return
        }
        #expect(galvanostat.line == SerialLineConfiguration(port: "usb:2a03:0043:ES4-1234", baudRate: 230_400))
        #expect(galvanostat.mainsFrequency_Hz == 60)
        #expect(galvanostat.maximumScriptDuration_s == 600)
        let sensor = try #require(parsed.pressureSensor)
        #expect(sensor.calibration == StackPressureCalibration(pelletArea_cm2: 0.5, scale: 1.02, offset_N: -2))
        #expect(sensor.readingInterval_s == 30)
        guard case .modbus(let modbus) = sensor.driver else {
            Issue.record("expected a Modbus load cell")
            return
        }
        #expect(modbus.line.parity == .even, "Modbus RTU defaults to even parity")
        #expect(modbus.line.baudRate == 19200)
        #expect(modbus.stationAddress == 7 && modbus.register == 2 && modbus.registerKind == .input)
        #expect(modbus.valueType == .float32 && modbus.byteOrder == .badc)
        #expect(modbus.zeroCommand == .init(register: 16, value: 1))
        #expect(sensor.capacity_N == 500)
    }

    @Test("a Keithley 2400 with its options; a Mark-10 with defaults")
    func keithleyAndMark10() throws {
        let parsed = try RigFile.parse(
            rig(
                """
                galvanostat: {driver: keithley2400, port: /dev/ttyS0, wiring: high-to-ce, open_circuit: output-off, remote_sense: false}
                pressure_sensor: {driver: mark10, port: /dev/serial/by-id/usb-Mark-10-if00, pellet_area: 1 cm2}
                """), file: "k.yaml")
        guard case .keithley2400(let keithley) = parsed.galvanostat else {
            Issue.record("expected a Keithley 2400")
            return
        }
        #expect(keithley.line.baudRate == 9600)
        #expect(
            keithley.wiring == .highToCounterElectrode && keithley.openCircuit == .outputOff && !keithley.remoteSense)
        #expect(parsed.pressureSensor?.calibration == StackPressureCalibration(pelletArea_cm2: 1))
    }

    @Test(
        "a Keithley 2400's output interlock: off, a plain line, or a watchdog with its hold time",
        arguments: [
            ("", nil), (", output_interlock: off", nil), (", output_interlock: line", .line),
            (", output_interlock: 10 s", .watchdog(holdTime_s: 10)),
        ] as [(String, Keithley2400Configuration.OutputInterlock?)])
    func keithleyInterlock(option: String, expected: Keithley2400Configuration.OutputInterlock?) throws {
        let parsed = try RigFile.parse(
            rig("galvanostat: {driver: keithley2400, port: /dev/ttyS0\(option)}"), file: "k.yaml")
        guard case .keithley2400(let keithley) = parsed.galvanostat else {
            Issue.record("expected a Keithley 2400")
            return
        }
        #expect(keithley.outputInterlock == expected)
    }

    @Test(
        "errors name the line, the key, the value and what is allowed",
        arguments: [
            (
                "galvanostat: {driver: methodscript, port: ttyACM0}", "galvanostat.port", "ttyACM0",
                "absolute device path"
            ),
            ("galvanostat: {driver: methodscript, port: usb:2a03}", "galvanostat.port", "usb:2a03", "usb:VID:PID"),
            ("galvanostat: {driver: keithley2400, port: /dev/ttyS0, baud: 12345}", "galvanostat.baud", "12345", "9600"),
            (
                "galvanostat: {driver: keithley2400, port: /dev/ttyS0, wiring: sideways}", "galvanostat.wiring",
                "sideways", "high-to-we"
            ),
            ("galvanostat: {driver: gamry, port: /dev/ttyS0}", "galvanostat.driver", "gamry", "methodscript"),
            (
                "galvanostat: {driver: keithley2400, port: /dev/ttyS0, output_interlock: soon}",
                "galvanostat.output_interlock", "soon", nil
            ),
            ("galvanostat: {driver: methodscript, port: /dev/ttyACM0, seed: 3}", "galvanostat.seed", nil, nil),
        ])
    func galvanostatErrors(line: String, key: String, value: String?, allowed: String?) throws {
        do {
            _ = try RigFile.parse(rig(line), file: "bad.yaml")
            Issue.record("\(line) must be refused")
        } catch {
            #expect(error.file == "bad.yaml")
            #expect(error.line == 5)
            #expect(error.key == key, "\(error)")
            if let value { #expect(error.value == value, "\(error)") }
            if let allowed { #expect(error.allowed?.contains(allowed) == true, "\(error)") }
        }
    }

    @Test("a pressure sensor needs its pellet area; a Modbus one its register map")
    func pressureErrors() throws {
        let base = "galvanostat: {driver: methodscript, port: /dev/ttyACM0}\n"
        #expect(throws: FileError.self) {
            try RigFile.parse(rig(base + "pressure_sensor: {driver: mark10, port: /dev/ttyUSB0}"), file: "p.yaml")
        }
        do {
            _ = try RigFile.parse(
                rig(base + "pressure_sensor: {driver: modbus, port: /dev/ttyUSB0, pellet_area: 1 cm2, register: 0}"),
                file: "p.yaml")
            Issue.record("a Modbus sensor without value_type must be refused")
        } catch {
            #expect(error.line == 6)
            #expect(error.description.contains("value_type"), "\(error)")
        }
        do {
            _ = try RigFile.parse(
                rig(
                    base
                        + "pressure_sensor: {driver: mark10, port: /dev/ttyUSB0, pellet_area: 1 cm2, calibration: {scale: x}}"
                ),
                file: "p.yaml")
            Issue.record("a scale that is not a number must be refused")
        } catch {
            #expect(error.key == "pressure_sensor.calibration.scale", "\(error)")
            #expect(error.value == "x")
        }
    }

    @Test(
        "a Modbus byte order is one of the four names; word_order is refused with its replacement; capacity is a force",
        arguments: [
            ("word_order: low-word-first", "pressure_sensor.word_order", "low-word-first", "byte_order: ABCD"),
            ("byte_order: little", "pressure_sensor.byte_order", "little", "ABCD, CDAB, BADC, DCBA"),
            ("capacity: 0 N", "pressure_sensor.capacity", "0", nil),
            ("capacity: lots", "pressure_sensor.capacity", "lots", nil),
            ("zero_command: {register: 70000, value: 1}", "pressure_sensor.zero_command.register", "70000", nil),
        ] as [(String, String, String, String?)])
    func modbusErrors(option: String, key: String, value: String, allowed: String?) throws {
        let text = rig(
            """
            galvanostat: {driver: methodscript, port: /dev/ttyACM0}
            pressure_sensor:
              driver: modbus
              port: /dev/ttyUSB0
              register: 0
              value_type: int32
              newtons_per_count: 0.01
              pellet_area: 1 cm2
              \(option)
            """)
        do {
            _ = try RigFile.parse(text, file: "m.yaml")
            Issue.record("\(option) must be refused")
        } catch {
            #expect(error.file == "m.yaml")
            #expect(error.key == key, "\(error)")
            #expect(error.value == value, "\(error)")
            if let allowed { #expect(error.allowed?.contains(allowed) == true, "\(error)") }
        }
    }
}
