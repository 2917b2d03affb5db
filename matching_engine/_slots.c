/* reader(cls, names): a callable that returns (obj.name, ...) for the engine's
 * commands, like operator.attrgetter(*names) but reading the slots directly.
 *
 * Commands are slotted dataclasses; the engine reads a dozen fields of every
 * PlaceOrder, and on CPython 3.12 each generic attribute lookup (type lookup,
 * descriptor, member get) costs more than the engine's own work with the value.
 * For an object whose type is exactly `cls` this reads the slots at their
 * offsets (what the member descriptors would read); for any other object it
 * does what attrgetter does, so the result, or the error, is always the one
 * getattr gives. An unset slot raises AttributeError as getattr does. The
 * engine uses operator.attrgetter when this module was not built (engine.py). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;     /* the exact type the offsets are for */
    PyObject *names;       /* tuple of str */
    Py_ssize_t n;
    Py_ssize_t *offsets;   /* byte offset of each slot in an instance of cls */
    vectorcallfunc vectorcall;
} Reader;

static PyObject *
reader_read(Reader *self, PyObject *obj)
{
    PyObject *out = PyTuple_New(self->n);
    if (out == NULL)
        return NULL;
    if (Py_TYPE(obj) == self->cls) {
        for (Py_ssize_t i = 0; i < self->n; i++) {
            PyObject *value = *(PyObject **)((char *)obj + self->offsets[i]);
            if (value == NULL) {
                /* an unset slot: let getattr raise what it raises */
                value = PyObject_GetAttr(obj, PyTuple_GET_ITEM(self->names, i));
                if (value == NULL) {
                    Py_DECREF(out);
                    return NULL;
                }
            }
            else {
                Py_INCREF(value);
            }
            PyTuple_SET_ITEM(out, i, value);
        }
        return out;
    }
    for (Py_ssize_t i = 0; i < self->n; i++) {
        PyObject *value = PyObject_GetAttr(obj, PyTuple_GET_ITEM(self->names, i));
        if (value == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, value);
    }
    return out;
}

static PyObject *
reader_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a reader takes exactly one positional argument");
        return NULL;
    }
    return reader_read((Reader *)self, args[0]);
}

static PyObject *
reader_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 1 || (kwargs != NULL && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "a reader takes exactly one positional argument");
        return NULL;
    }
    return reader_read((Reader *)self, PyTuple_GET_ITEM(args, 0));
}

static void
reader_dealloc(Reader *self)
{
    Py_XDECREF(self->cls);
    Py_XDECREF(self->names);
    PyMem_Free(self->offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "matching_engine._slots.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_call = reader_call,
    .tp_vectorcall_offset = offsetof(Reader, vectorcall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Reads named slots of exact instances of one class; getattr otherwise.",
};

static PyObject *
reader(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyType_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "reader(cls, names): a class and a tuple of names");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *names = args[1];
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    Py_ssize_t *offsets = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    if (offsets == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_Check(name)) {
            PyMem_Free(offsets);
            PyErr_SetString(PyExc_TypeError, "reader(cls, names): names must be str");
            return NULL;
        }
        /* only a slot's own member descriptor, found on the class as getattr
         * would find it, gives an offset that is safe to read */
        PyObject *descr = _PyType_Lookup(cls, name);
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type
            || ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX
            || ((PyMemberDescrObject *)descr)->d_common.d_type != cls) {
            PyMem_Free(offsets);
            PyErr_Format(PyExc_TypeError, "%s.%U is not a slot of that class", cls->tp_name,
                         name);
            return NULL;
        }
        offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    Reader *self = PyObject_New(Reader, &ReaderType);
    if (self == NULL) {
        PyMem_Free(offsets);
        return NULL;
    }
    Py_INCREF(cls);
    Py_INCREF(names);
    self->cls = cls;
    self->names = names;
    self->n = n;
    self->offsets = offsets;
    self->vectorcall = reader_vectorcall;
    return (PyObject *)self;
}

static PyMethodDef methods[] = {
    {"reader", (PyCFunction)(void (*)(void))reader, METH_FASTCALL,
     "reader(cls, names): like operator.attrgetter(*names), reading the slots of "
     "exact cls instances directly."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "matching_engine._slots",
    "Direct slot reads for the engine's commands.", -1, methods,
};

PyMODINIT_FUNC
PyInit__slots(void)
{
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
