/*
 * mcidoor.exe: MCI CD audio through winmm, as a media player does it (Windows documentation,
 * "MCI Command Strings": open ... type cdaudio, set ... door open, close). Built by
 * scripts/wine/setup.sh with mingw-w64 and run under Wine by test/wine.e2e.test.ts: Wine's mcicda
 * sends IOCTL_STORAGE_EJECT_MEDIA for "set cd door open".
 *
 * Usage: mcidoor.exe R:   prints one line per command ("<command> -> <error> <text>"); the exit
 * code is the MCI error of "set cd door open" (0 = the door opened).
 */
#include <windows.h>
#include <mmsystem.h>
#include <stdio.h>

static MCIERROR mci(const char *cmd)
{
    char ret[128] = "";
    char text[256] = "";
    MCIERROR e = mciSendStringA(cmd, ret, sizeof(ret), NULL);

    if (e != 0) {
        mciGetErrorStringA(e, text, sizeof(text));
    }
    printf("%s -> %lu %s\n", cmd, (unsigned long)e, e != 0 ? text : ret);
    fflush(stdout);
    return e;
}

int main(int argc, char **argv)
{
    char open_cmd[64];
    MCIERROR door;

    snprintf(open_cmd, sizeof(open_cmd), "open %s type cdaudio alias cd wait", argc > 1 ? argv[1] : "R:");
    if (mci(open_cmd) != 0) {
        return 100;
    }
    door = mci("set cd door open wait");
    mci("close cd wait");
    return (int)door;
}
