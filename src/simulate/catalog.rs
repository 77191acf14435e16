//! The benign scheduled tasks of a Windows fleet: real built-in tasks, vendor updaters,
//! per-user tasks, and what administrators add on servers.

/// How often a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every `n` hours.
    Hours(u32),
    Daily,
    Weekly,
    Logon,
    Boot,
    /// Registered, never runs on its own (on demand, or an event trigger that rarely fires).
    Never,
}

impl Schedule {
    /// The trigger element written in the task XML.
    pub fn trigger_xml(self) -> &'static str {
        match self {
            Schedule::Hours(_) => {
                "<TimeTrigger><Repetition><Interval>PT1H</Interval></Repetition><StartBoundary>2019-12-07T09:00:00</StartBoundary><Enabled>true</Enabled></TimeTrigger>"
            }
            Schedule::Daily | Schedule::Never => {
                "<CalendarTrigger><StartBoundary>2019-12-07T03:00:00</StartBoundary><ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
            }
            Schedule::Weekly => {
                "<CalendarTrigger><StartBoundary>2019-12-07T01:00:00</StartBoundary><ScheduleByWeek><DaysOfWeek><Sunday /></DaysOfWeek><WeeksInterval>1</WeeksInterval></ScheduleByWeek></CalendarTrigger>"
            }
            Schedule::Logon => "<LogonTrigger><Enabled>true</Enabled></LogonTrigger>",
            Schedule::Boot => "<BootTrigger><Enabled>true</Enabled></BootTrigger>",
        }
    }
}

/// Who a task runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    System,
    LocalService,
    NetworkService,
    /// The `Users` group (runs as whoever is logged on).
    Users,
    /// The host's primary user.
    User,
    /// A domain service account (`svc_backup`).
    Service(&'static str),
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Exec {
        command: &'static str,
        arguments: &'static str,
    },
    Com {
        clsid: &'static str,
        /// The handler's display name, as TaskScheduler's ActionName shows it.
        name: &'static str,
    },
}

/// Which hosts have a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    All,
    Workstations,
    Servers,
    /// A share of workstations (percent), chosen per host by the seed.
    SomeWorkstations(u32),
}

#[derive(Debug, Clone, Copy)]
pub struct TaskDef {
    /// The task path; `{GUID}` and `{SID}` are filled in per host or per user.
    pub path: &'static str,
    pub action: Action,
    pub run_as: RunAs,
    pub schedule: Schedule,
    pub author: &'static str,
    pub hidden: bool,
    pub highest: bool,
    pub hosts: Where,
    /// Registered by an installer during the simulated period (4698 + 106, from schtasks).
    pub installed_during: bool,
}

const MS: &str = "Microsoft Corporation";

const fn exec(command: &'static str, arguments: &'static str) -> Action {
    Action::Exec { command, arguments }
}

const fn task(path: &'static str, action: Action, run_as: RunAs, schedule: Schedule) -> TaskDef {
    TaskDef {
        path,
        action,
        run_as,
        schedule,
        author: MS,
        hidden: false,
        highest: false,
        hosts: Where::All,
        installed_during: false,
    }
}

/// The catalog. Paths, commands and principals are those of current Windows 10/11 and
/// Server builds and of common vendor updaters.
pub fn catalog() -> Vec<TaskDef> {
    use RunAs::*;
    use Schedule::*;
    vec![
        task(
            "\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan",
            exec("%systemroot%\\system32\\usoclient.exe", "StartScan"),
            System,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Work",
            exec("%systemroot%\\system32\\usoclient.exe", "StartWork"),
            System,
            Hours(8),
        ),
        task(
            "\\Microsoft\\Windows\\UpdateOrchestrator\\Universal Orchestrator Start",
            exec("%systemroot%\\system32\\usoclient.exe", "StartUWork"),
            System,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\WindowsUpdate\\Scheduled Start",
            exec("C:\\Windows\\system32\\sc.exe", "start wuauserv"),
            System,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag",
            exec("%windir%\\system32\\defrag.exe", "-c -h -o -$"),
            System,
            Weekly,
        ),
        task(
            "\\Microsoft\\Windows\\Application Experience\\Microsoft Compatibility Appraiser",
            exec("%windir%\\system32\\compattelrunner.exe", ""),
            System,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\Application Experience\\ProgramDataUpdater",
            exec("%windir%\\system32\\compattelrunner.exe", "-maintenance"),
            System,
            Daily,
        ),
        TaskDef {
            highest: true,
            ..task(
                "\\Microsoft\\Windows\\DiskCleanup\\SilentCleanup",
                exec(
                    "%windir%\\system32\\cleanmgr.exe",
                    "/autoclean /d %systemdrive%",
                ),
                Users,
                Daily,
            )
        },
        task(
            "\\Microsoft\\Windows\\SoftwareProtectionPlatform\\SvcRestartTask",
            Action::Com {
                clsid: "{B1AEBB5D-EAD9-4476-B375-9C3ED9F32AFC}",
                name: "SppSvcRestart",
            },
            NetworkService,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\Customer Experience Improvement Program\\Consolidator",
            exec("%SystemRoot%\\System32\\wsqmcons.exe", ""),
            System,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\Time Synchronization\\SynchronizeTime",
            exec("%windir%\\system32\\sc.exe", "start w32time task_started"),
            LocalService,
            Weekly,
        ),
        task(
            "\\Microsoft\\Windows\\Device Information\\Device",
            exec("%windir%\\system32\\devicecensus.exe", ""),
            System,
            Daily,
        ),
        task(
            "\\Microsoft\\Windows\\Chkdsk\\ProactiveScan",
            Action::Com {
                clsid: "{CF4270F5-2E43-4468-83B3-A8C45BB33EA1}",
                name: "Proactive Scan",
            },
            System,
            Weekly,
        ),
        task(
            "\\Microsoft\\Windows\\TaskScheduler\\Regular Maintenance",
            Action::Com {
                clsid: "{A6BA00FE-40E8-477C-B713-C64A14F16ADA}",
                name: "Maintenance Launcher Handler",
            },
            System,
            Daily,
        ),
        TaskDef {
            hidden: true,
            ..task(
                "\\Microsoft\\Windows\\Windows Defender\\Windows Defender Scheduled Scan",
                exec(
                    "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
                    "Scan -ScheduleJob -ScanTrigger 55 -IdleScheduledJob",
                ),
                System,
                Daily,
            )
        },
        TaskDef {
            hidden: true,
            ..task(
                "\\Microsoft\\Windows\\Windows Defender\\Windows Defender Cache Maintenance",
                exec(
                    "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
                    "-IdleTask -TaskName WdCacheMaintenance",
                ),
                System,
                Daily,
            )
        },
        TaskDef {
            author: "",
            hosts: Where::Workstations,
            ..task(
                "\\Microsoft\\Office\\Office Automatic Updates 2.0",
                exec(
                    "C:\\Program Files\\Common Files\\Microsoft Shared\\ClickToRun\\OfficeC2RClient.exe",
                    "/frequentupdate SCHEDULEDTASK displaylevel=False",
                ),
                System,
                Hours(12),
            )
        },
        TaskDef {
            author: "",
            hosts: Where::Workstations,
            ..task(
                "\\GoogleUpdateTaskMachineUA{GUID}",
                exec(
                    "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe",
                    "/ua /installsource scheduler",
                ),
                System,
                Hours(6),
            )
        },
        TaskDef {
            author: "",
            hosts: Where::Workstations,
            ..task(
                "\\GoogleUpdateTaskMachineCore{GUID}",
                exec(
                    "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe",
                    "/c",
                ),
                System,
                Logon,
            )
        },
        TaskDef {
            author: "",
            ..task(
                "\\MicrosoftEdgeUpdateTaskMachineCore",
                exec(
                    "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe",
                    "/c",
                ),
                System,
                Daily,
            )
        },
        TaskDef {
            author: "",
            ..task(
                "\\MicrosoftEdgeUpdateTaskMachineUA",
                exec(
                    "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe",
                    "/ua /installsource scheduler",
                ),
                System,
                Hours(6),
            )
        },
        TaskDef {
            author: "",
            hosts: Where::Workstations,
            ..task(
                "\\OneDrive Standalone Update Task-{SID}",
                exec(
                    "%localappdata%\\Microsoft\\OneDrive\\OneDriveStandaloneUpdater.exe",
                    "",
                ),
                User,
                Daily,
            )
        },
        TaskDef {
            author: "",
            hosts: Where::Workstations,
            ..task(
                "\\OneDrive Reporting Task-{SID}",
                exec(
                    "%localappdata%\\Microsoft\\OneDrive\\OneDrive.exe",
                    "/reporting",
                ),
                User,
                Daily,
            )
        },
        TaskDef {
            author: "Adobe Systems Incorporated",
            hosts: Where::SomeWorkstations(60),
            installed_during: true,
            ..task(
                "\\Adobe Acrobat Update Task",
                exec(
                    "C:\\Program Files (x86)\\Common Files\\Adobe\\ARM\\1.0\\AdobeARM.exe",
                    "",
                ),
                Users,
                Logon,
            )
        },
        TaskDef {
            author: "",
            hosts: Where::SomeWorkstations(50),
            installed_during: true,
            ..task(
                "\\ZoomUpdateTask",
                exec("C:\\Program Files\\Zoom\\bin\\Zoom.exe", "/update"),
                User,
                Daily,
            )
        },
        TaskDef {
            author: "CORP\\svc_backup",
            hosts: Where::Servers,
            highest: true,
            ..task(
                "\\Backup\\NightlyBackup",
                exec("C:\\Scripts\\backup.cmd", ""),
                Service("svc_backup"),
                Daily,
            )
        },
        TaskDef {
            author: "CORP\\admin.jones",
            hosts: Where::Servers,
            ..task(
                "\\Maintenance\\RotateLogs",
                exec(
                    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                    "-NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\Rotate-Logs.ps1",
                ),
                System,
                Daily,
            )
        },
        TaskDef {
            hosts: Where::Servers,
            ..task(
                "\\Microsoft\\Windows\\Server Manager\\ServerManager",
                exec("%windir%\\system32\\ServerManagerLauncher.exe", ""),
                Users,
                Logon,
            )
        },
    ]
}

/// More of the stock Windows 10/11 task set: on every host's disk, run on events or on
/// demand (so that the logs of the simulated period hold none of their runs). Paths,
/// commands and COM handlers are those of current builds.
pub fn stock() -> Vec<TaskDef> {
    use RunAs::*;
    const fn com(clsid: &'static str, name: &'static str) -> Action {
        Action::Com { clsid, name }
    }
    let t = |path, action, run_as| task(path, action, run_as, Schedule::Never);
    vec![
        t(
            "\\Microsoft\\Windows\\Application Experience\\StartupAppTask",
            exec(
                "%windir%\\system32\\rundll32.exe",
                "Startupscan.dll,SusRunTask",
            ),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Autochk\\Proxy",
            exec(
                "%windir%\\system32\\rundll32.exe",
                "/d acproxy.dll,PerformAutochkOperations",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\CloudExperienceHost\\CreateObjectTask",
            com("{E4544ABA-62BF-4C54-AAB2-EC246342626C}", "CreateObjectTask"),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Customer Experience Improvement Program\\UsbCeip",
            com("{C27F6B1D-FE0B-45E4-9257-38799FA69BC8}", "UsbCeip"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Diagnosis\\Scheduled",
            com(
                "{C1F85EF8-BCC2-4606-BB39-70C523715EB3}",
                "Scheduled Diagnosis",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\DiskDiagnostic\\Microsoft-Windows-DiskDiagnosticDataCollector",
            exec(
                "%windir%\\system32\\rundll32.exe",
                "dfdts.dll,DfdGetDefaultPolicyAndSMART",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\DiskFootprint\\Diagnostics",
            exec("%windir%\\system32\\disksnapshot.exe", "-z"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Feedback\\Siuf\\DmClient",
            exec("%windir%\\system32\\dmclient.exe", ""),
            LocalService,
        ),
        t(
            "\\Microsoft\\Windows\\Flighting\\FeatureConfig\\ReconcileFeatures",
            com(
                "{D1B2B3C6-6C8E-4F53-8C0E-7E4F3B26B0C4}",
                "ReconcileFeatures",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Location\\Notifications",
            exec("%windir%\\System32\\LocationNotificationWindows.exe", ""),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Maintenance\\WinSAT",
            com("{A9A33436-678B-4C9C-A211-7CC38785E79D}", "WinSAT"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\MemoryDiagnostic\\ProcessMemoryDiagnosticEvents",
            com(
                "{8168E74A-B39F-46D8-ADCD-7BED477B80A3}",
                "Memory Diagnostic",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\MemoryDiagnostic\\RunFullMemoryDiagnostic",
            com(
                "{8168E74A-B39F-46D8-ADCD-7BED477B80A3}",
                "Memory Diagnostic",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Mobile Broadband Accounts\\MNO Metadata Parser",
            exec("%SystemRoot%\\System32\\MbaeParserTask.exe", ""),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\NetTrace\\GatherNetworkInfo",
            exec("%windir%\\system32\\gatherNetworkInfo.vbs", ""),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Power Efficiency Diagnostics\\AnalyzeSystem",
            com(
                "{927EA2AF-1C54-43D5-825E-0074CE028EEE}",
                "Power Efficiency Diagnostics",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Ras\\MobilityManager",
            com("{C463A0FC-794F-4FDF-9201-01938CEACAFA}", "MobilityManager"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Registry\\RegIdleBackup",
            com("{CA767AA8-9157-4604-B64B-40747123D5F2}", "RegIdleBackup"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Servicing\\StartComponentCleanup",
            com(
                "{752073A1-23F2-4396-85F0-8FDB879ED0ED}",
                "StartComponentCleanup",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Shell\\FamilySafetyMonitor",
            exec("%windir%\\System32\\wpcmon.exe", ""),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\SpacePort\\SpaceAgentTask",
            exec("%windir%\\system32\\SpaceAgent.exe", ""),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Speech\\SpeechModelDownloadTask",
            exec(
                "%windir%\\system32\\speech_onecore\\common\\SpeechModelDownload.exe",
                "",
            ),
            NetworkService,
        ),
        t(
            "\\Microsoft\\Windows\\Time Synchronization\\SynchronizeTime",
            exec("%windir%\\system32\\sc.exe", "start w32time task_started"),
            LocalService,
        ),
        t(
            "\\Microsoft\\Windows\\Time Zone\\SynchronizeTimeZone",
            exec("%windir%\\system32\\tzsync.exe", ""),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\UPnP\\UPnPHostConfig",
            exec("sc.exe", "config upnphost start= auto"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\WDI\\ResolutionHost",
            com(
                "{900BE39D-6BE8-461A-BC4D-B0FA71F5ECB1}",
                "WDI Resolution Host",
            ),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Windows Error Reporting\\QueueReporting",
            exec("%windir%\\system32\\wermgr.exe", "-upload"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Windows Filtering Platform\\BfeOnServiceStartTypeChange",
            exec(
                "%windir%\\system32\\rundll32.exe",
                "bfe.dll,BfeOnServiceStartTypeChange",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\WindowsColorSystem\\Calibration Loader",
            com(
                "{B210D694-C8DF-490D-9576-9E20CDBC20BD}",
                "Calibration Loader",
            ),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Wininet\\CacheTask",
            com(
                "{0358B920-0AC7-461F-98F4-58E32CD89148}",
                "Wininet Cache Task",
            ),
            Users,
        ),
        t(
            "\\Microsoft\\Windows\\Workplace Join\\Automatic-Device-Join",
            exec(
                "%SystemRoot%\\System32\\dsregcmd.exe",
                "$(Arg0) $(Arg1) $(Arg2)",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\RecoveryEnvironment\\VerifyWinRE",
            com("{89F2A1A6-5C2E-4B10-8C1C-9F3D6F1B7E21}", "VerifyWinRE"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\StateRepository\\MaintenanceTasks",
            com(
                "{3F0B3A3E-6E6B-4D8B-A4C3-0C8B0B7B5D1E}",
                "StateRepository Maintenance",
            ),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Sysmain\\ResPriStaticDbSync",
            exec("%windir%\\system32\\sc.exe", "start sysmain"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Bluetooth\\UninstallDeviceTask",
            exec("BthUdTask.exe", "$(Arg0)"),
            System,
        ),
        t(
            "\\Microsoft\\Windows\\Clip\\License Validation",
            exec("%SystemRoot%\\system32\\ClipUp.exe", "-p -s -o"),
            System,
        ),
        t(
            "\\Microsoft\\XblGameSave\\XblGameSaveTask",
            exec("%windir%\\System32\\XblGameSaveTask.exe", "standby"),
            System,
        ),
        TaskDef {
            hidden: true,
            ..t(
                "\\Microsoft\\Windows\\Windows Defender\\Windows Defender Verification",
                exec(
                    "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
                    "-IdleTask -TaskName WdVerification",
                ),
                System,
            )
        },
        TaskDef {
            hidden: true,
            ..t(
                "\\Microsoft\\Windows\\Windows Defender\\Windows Defender Cleanup",
                exec(
                    "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
                    "-IdleTask -TaskName WdCleanup",
                ),
                System,
            )
        },
    ]
}
